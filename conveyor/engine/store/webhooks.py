"""The webhook log: one row per outbound call attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from conveyor.engine.store import Conn
from conveyor.jsonvalue import JSONValue


@dataclass(frozen=True, slots=True)
class WebhookAttempt:
    """One outbound HTTP call and how it ended."""

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


async def insert_webhook_attempt(conn: Conn, a: WebhookAttempt) -> None:
    """Record one call attempt."""
    await conn.execute(
        _INSERT,
        a.execution_id,
        a.node,
        a.idempotency_key,
        a.attempt,
        a.method,
        a.url,
        a.request_body,
        a.status_code,
        a.response_body,
        a.error,
        a.duration_ms,
    )
