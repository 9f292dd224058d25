"""Cancel on event: the live executions whose workflow version cancels on a new event's type, and the cancel,
set-based, each with a history row naming the event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES, Transition
from conveyor.store import Conn
from conveyor.store.event_log import Event
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class CancelCandidate:
    """A live execution an event may cancel, with what its workflow's rule sees."""

    event_id: int
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    input: JSONObject


_CANDIDATES = Statement("""
WITH ev AS (
    SELECT id, type FROM event_log WHERE id = ANY (:event_ids::bigint[])
), cancelling AS MATERIALIZED (
    -- the versions that cancel on the batch's types, tested once per type: joined per event, the planner tested
    -- the definition once per event and execution (6 s for 1,000 events and 10,000 waiting executions)
    SELECT v.workflow_id, v.version, t.type
    FROM (SELECT DISTINCT type FROM ev) AS t
    JOIN workflow_versions v ON v.definition -> 'cancel_on' @> jsonb_build_array(jsonb_build_object('event', t.type))
)
SELECT ev.id AS event_id, e.id AS execution_id, e.workflow_id, e.workflow_version, e.input
FROM cancelling c
JOIN ev ON ev.type = c.type
JOIN executions e ON e.workflow_id = c.workflow_id AND e.workflow_version = c.version
WHERE e.state <> ALL (:terminal_states::text[])
ORDER BY e.id, ev.id
""")


async def find_cancel_candidates(conn: Conn, events: Sequence[Event]) -> list[CancelCandidate]:
    """Every live execution whose workflow version declares `cancel_on` for one of these events' types."""
    args = _CANDIDATES.args(event_ids=[e.id for e in events], terminal_states=sorted(TERMINAL_STATES))
    return [CancelCandidate(**dict(r)) for r in await conn.fetch(_CANDIDATES.sql, *args)]


_CANCEL = Statement(f"""
WITH target AS (
    SELECT * FROM unnest(:execution_ids::uuid[], :event_ids::bigint[]) AS t(id, event_id)
), moves AS (
    SELECT * FROM unnest(:sources::text[], :targets::text[], :events::text[]) AS m(source, target, event)
), locked AS (
    SELECT e.id, e.state, t.event_id FROM executions e JOIN target t ON t.id = e.id
    WHERE e.state = ANY (:sources::text[])
    ORDER BY e.id
    FOR UPDATE OF e
), updated AS (
    UPDATE executions e
    SET state = m.target, resume_state = NULL, pause_requested = false, lease_owner = NULL, wake_at = NULL,
        finished_at = now(), version = e.version + 1, updated_at = now()
    FROM locked l JOIN moves m ON m.source = l.state
    WHERE e.id = l.id
    RETURNING e.id, l.state AS source, m.target, m.event, e.current_node, e.attempt, l.event_id
), history AS (
    {INSERT_HISTORY}
    SELECT u.id, u.source, u.target, u.event, u.current_node, u.attempt,
           jsonb_build_object('reason', 'cancel_on', 'event_id', u.event_id, 'event_type', ev.type)
    FROM updated u JOIN event_log ev ON ev.id = u.event_id
)
SELECT id FROM updated
""")


async def cancel_on_events(
    conn: Conn, cancels: Sequence[tuple[uuid.UUID, int]], moves: Sequence[Transition]
) -> list[uuid.UUID]:
    """Cancel each (execution, event) still in a state a cancel move leaves, with a history row naming the
    event; the ids cancelled. Their workers hear of it on the control channel when the transaction commits."""
    args = _CANCEL.args(
        execution_ids=[c[0] for c in cancels],
        event_ids=[c[1] for c in cancels],
        sources=[m.source for m in moves],
        targets=[m.target for m in moves],
        events=[m.event for m in moves],
    )
    return [r["id"] for r in await conn.fetch(_CANCEL.sql, *args)]
