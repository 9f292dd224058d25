"""The SMS log: one row per step idempotency key, never two; a message once sent is never sent again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.store import Conn
from conveyor.store.delivery import DELIVERED, DeliveryStatus
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class SmsLog:
    """A text message a step sent, or is sending."""

    execution_id: uuid.UUID
    idempotency_key: str
    node: str
    recipient: str
    body: str
    transport: str
    status: str
    provider_id: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


_COLUMNS = ", ".join(SmsLog.__slots__)

_RESERVE = Statement(f"""
INSERT INTO sms_logs (execution_id, idempotency_key, node, recipient, body, transport, status)
VALUES (:execution_id, :idempotency_key, :node, :recipient, :body, :transport, '{DeliveryStatus.SENDING}')
ON CONFLICT (execution_id, idempotency_key) DO NOTHING
RETURNING {_COLUMNS}
""")
# A statement of its own: one that waited on a concurrent insert of the same key must see that row.
_BY_KEY = Statement(f"SELECT {_COLUMNS} FROM sms_logs WHERE execution_id = :execution_id AND idempotency_key = :key")


async def reserve_sms(
    conn: Conn, execution_id: uuid.UUID, key: str, node: str, recipient: str, body: str, transport: str
) -> SmsLog:
    """Record the message as being sent, or return the row an earlier attempt left for this key."""
    row = await conn.fetchrow(
        _RESERVE.sql,
        *_RESERVE.args(
            execution_id=execution_id,
            idempotency_key=key,
            node=node,
            recipient=recipient,
            body=body,
            transport=transport,
        ),
    )
    if row is None:
        row = await conn.fetchrow(_BY_KEY.sql, *_BY_KEY.args(execution_id=execution_id, key=key))
        assert row is not None, "the conflicting row is committed"
    return SmsLog(**dict(row))


_MARK = Statement("""
UPDATE sms_logs
SET status = :status, provider_id = :provider_id, error = :error,
    sent_at = CASE WHEN :status = ANY(:delivered::text[]) THEN now() END
WHERE execution_id = :execution_id AND idempotency_key = :key
""")


async def mark_sms(
    conn: Conn, log: SmsLog, status: DeliveryStatus, provider_id: str | None = None, error: str | None = None
) -> None:
    """Record how delivery went."""
    args = _MARK.args(
        execution_id=log.execution_id,
        key=log.idempotency_key,
        status=str(status),
        provider_id=provider_id,
        error=error,
        delivered=sorted(DELIVERED),
    )
    await conn.execute(_MARK.sql, *args)


_LIST = Statement(f"""
SELECT {_COLUMNS} FROM sms_logs
WHERE (:execution_id::uuid IS NULL OR execution_id = :execution_id)
  AND EXISTS (SELECT 1 FROM executions x WHERE x.id = execution_id AND x.namespace = :namespace)
ORDER BY created_at DESC, idempotency_key DESC
LIMIT :limit
""")


async def list_sms(conn: Conn, namespace: str, execution_id: uuid.UUID | None, limit: int) -> list[SmsLog]:
    """The newest messages of a namespace's executions, of one execution or of all."""
    rows = await conn.fetch(_LIST.sql, *_LIST.args(namespace=namespace, execution_id=execution_id, limit=limit))
    return [SmsLog(**dict(r)) for r in rows]
