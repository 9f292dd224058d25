"""The webhook log: one row per outbound call attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONValue
from conveyor.store import Conn
from conveyor.store.statement import Statement


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


_INSERT = Statement("""
INSERT INTO webhook_logs (execution_id, node, idempotency_key, attempt, method, url, request_body,
                          status_code, response_body, error, duration_ms)
VALUES (:execution_id, :node, :idempotency_key, :attempt, :method, :url, :request_body,
        :status_code, :response_body, :error, :duration_ms)
""")


async def insert_webhook_call(conn: Conn, call: WebhookCall) -> None:
    """Record one call attempt."""
    await conn.execute(
        _INSERT.sql,
        *_INSERT.args(
            execution_id=call.execution_id,
            node=call.node,
            idempotency_key=call.idempotency_key,
            attempt=call.attempt,
            method=call.method,
            url=call.url,
            request_body=call.request_body,
            status_code=call.status_code,
            response_body=call.response_body,
            error=call.error,
            duration_ms=call.duration_ms,
        ),
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


_LIST = Statement("""
SELECT id, node, idempotency_key, attempt, method, url, status_code, response_body, error, duration_ms, created_at
FROM webhook_logs
WHERE execution_id = :execution_id AND id > :after_id
ORDER BY id
LIMIT :limit
""")


async def list_webhook_calls(conn: Conn, execution_id: uuid.UUID, after_id: int, limit: int) -> list[LoggedWebhookCall]:
    """The execution's call attempts after row `after_id`, oldest first, at most `limit`."""
    return [
        LoggedWebhookCall(**dict(r))
        for r in await conn.fetch(_LIST.sql, *_LIST.args(execution_id=execution_id, after_id=after_id, limit=limit))
    ]
