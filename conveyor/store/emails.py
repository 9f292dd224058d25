"""The email log: one row per step idempotency key, never two."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.store import Conn
from conveyor.store.templates import EmailContent


class EmailStatus(enum.StrEnum):
    """Where an email's delivery stands (the email_logs CHECK lists the same)."""

    SENDING = "sending"
    SENT = "sent"
    LOGGED = "logged"  # the log transport's "delivered": recorded, not sent
    FAILED = "failed"


DELIVERED = frozenset({EmailStatus.SENT, EmailStatus.LOGGED})


@dataclass(frozen=True, slots=True)
class EmailLog:
    """An email a step sent, or is sending."""

    id: uuid.UUID
    execution_id: uuid.UUID | None
    node: str | None
    idempotency_key: str
    recipient: str
    subject: str
    template: str
    transport: str
    status: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = ", ".join(EmailLog.__slots__)


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered email for one step, stored once under the step's key."""

    execution_id: uuid.UUID
    node: str
    idempotency_key: str
    recipient: str
    template: str
    content: EmailContent
    transport: str


_RESERVE = f"""
INSERT INTO email_logs (id, execution_id, node, idempotency_key, recipient, subject, template,
                        text_body, html_body, transport, status)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '{EmailStatus.SENDING}')
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
"""
# A separate statement on purpose: one that waited on a concurrent insert of the same key must see
# that row, which the snapshot of the INSERT's own statement does not.
_BY_KEY = f"SELECT {_COLUMNS} FROM email_logs WHERE idempotency_key = $1"


async def reserve_email(conn: Conn, email: OutgoingEmail) -> EmailLog:
    """Record the email as being sent, or return the row an earlier attempt left for this key."""
    row = await conn.fetchrow(
        _RESERVE,
        uuid.uuid4(),
        email.execution_id,
        email.node,
        email.idempotency_key,
        email.recipient,
        email.content.subject,
        email.template,
        email.content.text_body,
        email.content.html_body,
        email.transport,
    )
    if row is None:
        row = await conn.fetchrow(_BY_KEY, email.idempotency_key)
        assert row is not None, "the conflicting row is committed"
    return EmailLog(**dict(row))


_MARK = """
UPDATE email_logs SET status = $2, error = $3, sent_at = CASE WHEN $2 = ANY($4::text[]) THEN now() END
WHERE id = $1
"""


async def mark_email(conn: Conn, email_id: uuid.UUID, status: str, error: str | None = None) -> None:
    """Record how delivery went."""
    await conn.execute(_MARK, email_id, status, error, sorted(DELIVERED))


_LIST = f"""
SELECT {_COLUMNS} FROM email_logs
WHERE ($1::uuid IS NULL OR execution_id = $1)
ORDER BY created_at, id
LIMIT $2
"""


async def list_emails(conn: Conn, execution_id: uuid.UUID | None, limit: int) -> list[EmailLog]:
    """Emails, oldest first, optionally of one execution."""
    return [EmailLog(**dict(r)) for r in await conn.fetch(_LIST, execution_id, limit)]
