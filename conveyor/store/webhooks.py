"""The webhook log: one row per outbound call attempt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
