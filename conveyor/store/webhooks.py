"""The webhook log: one row per outbound call attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONValue
from conveyor.store import Conn


@dataclass(frozen=True, slots=True)
class WebhookCall:
    """One attempt of an outbound HTTP call and how it ended."""

    execution_id: uuid.UUID
    node: str
    idempotency_key: str
    attempt: int
    method: str
    url: str
    request_body: JSONValue
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float


_INSERT = """
INSERT INTO webhook_logs (execution_id, node, idempotency_key, attempt, method, url, request_body,
                          status_code, response_body, error, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


async def insert_webhook_call(conn: Conn, call: WebhookCall) -> None:
    """Record one call attempt."""
    await conn.execute(
        _INSERT,
        call.execution_id,
        call.node,
        call.idempotency_key,
        call.attempt,
        call.method,
        call.url,
        call.request_body,
        call.status_code,
        call.response_body,
        call.error,
        call.duration_ms,
    )


@dataclass(frozen=True, slots=True)
class LoggedWebhookCall:
    """A recorded call attempt, as read back for an execution."""

    id: int
    node: str | None
    idempotency_key: str
    attempt: int
    method: str
    url: str
    status_code: int | None
    response_body: str | None
    error: str | None
    duration_ms: float | None
    created_at: datetime


_LIST = """
SELECT id, node, idempotency_key, attempt, method, url, status_code, response_body, error, duration_ms, created_at
FROM webhook_logs
WHERE execution_id = $1 AND id > $2
ORDER BY id
LIMIT $3
"""


async def list_webhook_calls(conn: Conn, execution_id: uuid.UUID, after_id: int, limit: int) -> list[LoggedWebhookCall]:
    """The execution's call attempts after row `after_id`, oldest first, at most `limit`."""
    return [LoggedWebhookCall(**dict(r)) for r in await conn.fetch(_LIST, execution_id, after_id, limit)]
