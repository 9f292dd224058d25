"""The email log: one row per step idempotency key, never two."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from conveyor.jsonvalue import JSONValue
from conveyor.store import Conn
from conveyor.store.delivery import DELIVERED, DeliveryStatus
from conveyor.store.statement import Statement
from conveyor.store.templates import EmailContent


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


_RESERVE = Statement(f"""
INSERT INTO email_logs (id, execution_id, node, idempotency_key, recipient, subject, template,
                        text_body, html_body, transport, status)
VALUES (:id, :execution_id, :node, :idempotency_key, :recipient, :subject, :template,
        :text_body, :html_body, :transport, '{DeliveryStatus.SENDING}')
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
""")
# A separate statement on purpose: one that waited on a concurrent insert of the same key must see
# that row, which the snapshot of the INSERT's own statement does not.
_BY_KEY = Statement(f"SELECT {_COLUMNS} FROM email_logs WHERE idempotency_key = :key")


async def reserve_email(conn: Conn, email: OutgoingEmail) -> EmailLog:
    """Record the email as being sent, or return the row an earlier attempt left for this key."""
    row = await conn.fetchrow(
        _RESERVE.sql,
        *_RESERVE.args(
            id=uuid.uuid4(),
            execution_id=email.execution_id,
            node=email.node,
            idempotency_key=email.idempotency_key,
            recipient=email.recipient,
            subject=email.content.subject,
            template=email.template,
            text_body=email.content.text_body,
            html_body=email.content.html_body,
            transport=email.transport,
        ),
    )
    if row is None:
        row = await conn.fetchrow(_BY_KEY.sql, *_BY_KEY.args(key=email.idempotency_key))
        assert row is not None, "the conflicting row is committed"
    return EmailLog(**dict(row))


_MARK = Statement("""
UPDATE email_logs
SET status = :status, error = :error, sent_at = CASE WHEN :status = ANY(:delivered::text[]) THEN now() END
WHERE id = :id
""")


async def mark_email(conn: Conn, email_id: uuid.UUID, status: str, error: str | None = None) -> None:
    """Record how delivery went."""
    await conn.execute(_MARK.sql, *_MARK.args(status=status, error=error, delivered=sorted(DELIVERED), id=email_id))


@dataclass(frozen=True, slots=True)
class EmailFilter:
    """Emails matching every given filter; an empty filter matches all."""

    execution_id: uuid.UUID | None = None
    statuses: tuple[str, ...] = ()
    template: str | None = None
    recipient: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    namespace: str | None = None  # the API always names one: emails of that namespace's executions


# (created_at, id) of an email: lists run newest first on it, and a page continues strictly after it.
EmailKey = tuple[datetime, uuid.UUID]

# Each filter's condition. Indexes (schema.sql): execution → email_logs_execution_page_idx, one status →
# email_logs_status_idx, template → email_logs_template_idx, recipient → email_logs_recipient_idx, none of
# these → email_logs_created_idx; each on (…, created_at DESC, id DESC), read in page order.
_OF_NAMESPACE = "EXISTS (SELECT 1 FROM executions x WHERE x.id = execution_id AND x.namespace = :namespace)"
_CONDITIONS = {
    "execution_id": "execution_id = :execution_id",
    "template": "template = :template",
    "recipient": "recipient = :recipient",
    "created_after": "created_at > :created_after",
    "created_before": "created_at < :created_before",
    "namespace": _OF_NAMESPACE,
}
_ONE_STATUS = "status = :status"
_STATUSES = "status = ANY(:statuses::text[])"
_KEYSET = "(created_at, id) < (:after_at, :after_id)"
_LIST = "SELECT {columns} FROM email_logs WHERE {where} ORDER BY created_at DESC, id DESC LIMIT :limit"


def email_list_query(chosen: EmailFilter, after: EmailKey | None, limit: int) -> tuple[str, list[JSONValue]]:
    """The statement `list_emails` runs and its arguments: only the filters given, so each can use its index."""
    conditions: list[str] = []
    values: dict[str, JSONValue] = {"limit": limit}
    for name, condition in _CONDITIONS.items():
        value = getattr(chosen, name)
        if value is not None:
            conditions.append(condition)
            values[name] = value
    if len(chosen.statuses) == 1:
        conditions.append(_ONE_STATUS)
        values["status"] = chosen.statuses[0]
    elif chosen.statuses:
        conditions.append(_STATUSES)
        values["statuses"] = list(chosen.statuses)
    if after is not None:
        conditions.append(_KEYSET)
        values.update(after_at=after[0], after_id=after[1])
    statement = Statement(_LIST.format(columns=_COLUMNS, where=" AND ".join(conditions) or "true"))
    return statement.sql, statement.args(**values)


async def list_emails(conn: Conn, chosen: EmailFilter, after: EmailKey | None, limit: int) -> list[EmailLog]:
    """Up to `limit` matching emails, newest first, after the key `after` when given."""
    sql, args = email_list_query(chosen, after, limit)
    return [EmailLog(**dict(r)) for r in await conn.fetch(sql, *args)]


@dataclass(frozen=True, slots=True)
class EmailCount:
    """How many emails of one status: overall (template and day None), of a template, or of a UTC day."""

    status: str
    template: str | None
    day: date | None
    count: int


@dataclass(frozen=True, slots=True)
class EmailStatistics:
    """The counts of a window of whole UTC days, ending with today's (so far), by the database's clock."""

    since: datetime
    until: datetime
    counts: list[EmailCount]


# The window's start: midnight UTC, `days - 1` days before today's.
_WINDOW = Statement("""
SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => :days - 1)) AT TIME ZONE 'UTC' AS since,
       now() AS until
""")
# One pass over the window (a range of email_logs_created_idx), grouped three ways at once.
_STATISTICS = Statement(f"""
SELECT status, template, (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS count
FROM email_logs
WHERE created_at >= :since AND (:namespace::text IS NULL OR {_OF_NAMESPACE})
GROUP BY GROUPING SETS ((status), (template, status), ((created_at AT TIME ZONE 'UTC')::date, status))
""")


async def count_emails(conn: Conn, days: int, namespace: str | None = None) -> EmailStatistics:
    """Emails created in the last `days` UTC days (today included), of one namespace's executions when named,
    counted by status: overall, by template, and by day."""
    window = await conn.fetchrow(_WINDOW.sql, *_WINDOW.args(days=days))
    assert window is not None
    rows = await conn.fetch(_STATISTICS.sql, *_STATISTICS.args(since=window["since"], namespace=namespace))
    counts = [EmailCount(r["status"], r["template"], r["day"], r["count"]) for r in rows]
    return EmailStatistics(window["since"], window["until"], counts)
