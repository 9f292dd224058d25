"""Operators' changes to one execution: pause, resume, cancel, retry, rerun, and pause requests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import PAUSED, RUNNING, TERMINAL_STATES, Transition
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.statement import Statement

_OPERATOR_UPDATE = Statement(f"""
WITH updated AS (
    UPDATE executions
    SET state = :state, resume_state = :resume_state, attempt = :attempt, pause_requested = false,
        current_node = coalesce(:restart_at, current_node),
        visit = visit + CASE WHEN :restart_at::text IS NULL THEN 0 ELSE 1 END,
        output = CASE WHEN :restart_at::text IS NULL THEN output END,
        -- Run from another node: whichever worker takes it first routes it to that node's action's workers.
        action = CASE WHEN :restart_at::text IS NULL THEN action END,
        wake_at = CASE :wake::text WHEN 'now' THEN now() WHEN 'clear' THEN NULL ELSE wake_at END,
        lease_owner = NULL,
        finished_at = CASE WHEN :finished THEN now() END,
        error = CASE WHEN :wake::text = 'now' AND :state::text = '{RUNNING}' THEN NULL ELSE error END,
        generation = generation + CASE WHEN :new_generation THEN 1 ELSE 0 END,
        version = version + 1, updated_at = now()
    WHERE id = :execution_id
    RETURNING id, current_node, attempt
), history AS (
    {INSERT_HISTORY}
    SELECT u.id, h.source, h.target, h.event, u.current_node, u.attempt, :detail
    FROM updated u, unnest(:sources::text[], :targets::text[], :events::text[]) AS h(source, target, event)
)
-- Anything left waiting for a worker may now be due sooner than the workers' timers say.
SELECT pg_notify('{WAKE_CHANNEL}', '') FROM updated WHERE :state::text <> ALL(:resting::text[])
""")
# States in which nothing waits for a worker.
_RESTING = sorted(TERMINAL_STATES | {PAUSED})


@dataclass(frozen=True, slots=True)
class OperatorChange:
    """A change an operator asks for (pause, resume, cancel, retry), already run through the machine."""

    execution_id: uuid.UUID
    state: str
    resume_state: str | None
    attempt: int
    wake: Literal["now", "keep", "clear"]
    transitions: Sequence[Transition]
    detail: JSONObject
    new_generation: bool = False
    # Run again from this node, as a new visit, rather than where the execution stands.
    restart_at: str | None = None


async def apply_operator_change(conn: Conn, change: OperatorChange) -> None:
    """Write an operator's change and its history rows; the execution leaves any worker's hands."""
    await conn.execute(
        _OPERATOR_UPDATE.sql,
        *_OPERATOR_UPDATE.args(
            execution_id=change.execution_id,
            state=change.state,
            resume_state=change.resume_state,
            attempt=change.attempt,
            wake=change.wake,
            finished=change.state in TERMINAL_STATES,
            new_generation=change.new_generation,
            restart_at=change.restart_at,
            detail=change.detail,
            sources=[t.source for t in change.transitions],
            targets=[t.target for t in change.transitions],
            events=[t.event for t in change.transitions],
            resting=_RESTING,
        ),
    )


_FLAG_PAUSE = Statement("UPDATE executions SET pause_requested = :requested, updated_at = now() WHERE id = :id")


async def set_pause_requested(conn: Conn, execution_id: uuid.UUID, requested: bool) -> None:
    """Ask the worker running a step to pause after it, or withdraw that request."""
    await conn.execute(_FLAG_PAUSE.sql, *_FLAG_PAUSE.args(requested=requested, id=execution_id))
