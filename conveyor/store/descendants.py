"""An execution's descendants (its shared-flow steps' children, theirs, and so on): how deep one sits, and
cancelling them with it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import Transition
from conveyor.store import Conn
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.statement import Statement

# Walks up at most `limit` parents: how deep past the cap does not matter, only that it is.
_DEPTH = Statement("""
WITH RECURSIVE up(parent_id, depth) AS (
    SELECT parent_id, 0 FROM executions WHERE id = :execution_id
    UNION ALL
    SELECT e.parent_id, up.depth + 1 FROM executions e JOIN up ON e.id = up.parent_id WHERE up.depth < :limit
)
SELECT max(depth) FROM up
""")


async def flow_depth(conn: Conn, execution_id: uuid.UUID, limit: int) -> int:
    """How many ancestors the execution has (0 for a top-level one), counted up to `limit`."""
    depth = await conn.fetchval(_DEPTH.sql, *_DEPTH.args(execution_id=execution_id, limit=limit))
    return int(depth or 0)


_CANCEL_DESCENDANTS = Statement(f"""
WITH RECURSIVE tree AS (
    SELECT id FROM executions WHERE parent_id = ANY(:parent_ids::uuid[])
    UNION
    SELECT e.id FROM executions e JOIN tree t ON e.parent_id = t.id
), moves AS (
    SELECT * FROM unnest(:sources::text[], :targets::text[], :events::text[]) AS m(source, target, event)
), locked AS (
    SELECT e.id, e.state FROM executions e JOIN tree USING (id)
    WHERE e.state = ANY(:sources::text[])
    FOR UPDATE OF e
), updated AS (
    UPDATE executions e
    SET state = m.target, resume_state = NULL, pause_requested = false, lease_owner = NULL, wake_at = NULL,
        finished_at = now(), version = e.version + 1, updated_at = now()
    FROM locked l JOIN moves m ON m.source = l.state
    WHERE e.id = l.id
    RETURNING e.id, l.state AS source, m.target, m.event, e.current_node, e.attempt
), history AS (
    {INSERT_HISTORY}
    SELECT id, source, target, event, current_node, attempt, :detail FROM updated
)
SELECT id FROM updated
""")


async def cancel_descendants(
    conn: Conn, parent_ids: Sequence[uuid.UUID], moves: Sequence[Transition], detail: JSONObject
) -> list[uuid.UUID]:
    """Cancel every descendant in a state one of the machine's cancel `moves` leaves, each with its history
    row; the ids cancelled. Their workers hear of it on the control channel when the transaction commits.

    A descendant's worker may be creating a child right now: the statement waits for its row, but sees the
    tree as it was when it began, without that child. So it runs again until it finds nothing more: once
    cancelled, a descendant's row is fenced against its worker, which can create no further child."""
    args = _CANCEL_DESCENDANTS.args(
        parent_ids=list(parent_ids),
        sources=[m.source for m in moves],
        targets=[m.target for m in moves],
        events=[m.event for m in moves],
        detail=detail,
    )
    cancelled: list[uuid.UUID] = []
    while rows := await conn.fetch(_CANCEL_DESCENDANTS.sql, *args):
        cancelled += [r["id"] for r in rows]
    return cancelled
