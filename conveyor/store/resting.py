"""What put a resting execution to rest: its last history row, and the wait for an event it has open, if any."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Rest:
    """The last history row's event, node and detail; the open event wait's node, types and deadline."""

    event: str | None
    node: str | None
    detail: JSONObject | None
    wait_node: str | None
    event_types: list[str] | None
    deadline: datetime | None


_REST = Statement("""
SELECT h.event, h.node, h.detail, w.node AS wait_node, w.event_types, w.deadline
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT event, node, detail FROM execution_history
    WHERE execution_id = :execution_id ORDER BY id DESC LIMIT 1
) h ON true
LEFT JOIN LATERAL (
    SELECT node, event_types, deadline FROM event_waits
    WHERE execution_id = :execution_id AND closed_at IS NULL ORDER BY visit DESC LIMIT 1
) w ON true
""")


async def find_rest(conn: Conn, execution_id: uuid.UUID) -> Rest:
    """The last history row of the execution and its open event wait; two index reads in one statement."""
    row = await conn.fetchrow(_REST.sql, *_REST.args(execution_id=execution_id))
    assert row is not None  # the statement always answers one row
    return Rest(**dict(row))
