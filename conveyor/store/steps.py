"""Step commits: a step's outcome, the execution's next state and its history, in one fenced statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import DELAYED, PAUSED, TERMINAL_STATES, Transition
from conveyor.store import Conn
from conveyor.store.executions import WAKE_CHANNEL
from conveyor.store.history import Step, StepStatus
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on an execution: every write it makes is fenced on both fields."""

    execution_id: uuid.UUID
    owner: str
    version: int


@dataclass(frozen=True, slots=True)
class Wake:
    """When the execution next needs a worker: under the lease still, at a time, after a while, or never."""

    keep_lease_seconds: float | None = None
    at: datetime | None = None
    after_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class StepCommit:
    """Everything one step changes, written in one statement and fenced on the lease."""

    lease: Lease
    state: str
    current_node: str | None
    visit: int
    attempt: int
    transitions: Sequence[Transition]
    node: str | None
    history_detail: JSONObject | None = None
    step: Step | None = None
    context_patch: JSONObject | None = None
    output: JSONValue = None
    error: JSONValue = None
    wake: Wake = Wake()
    finished: bool = False


_COMMIT_STEP = Statement(f"""
WITH updated AS (
    UPDATE executions
    SET state = :state, resume_state = NULL, current_node = :current_node, visit = :visit, attempt = :attempt,
        context = CASE WHEN :context_patch::jsonb IS NULL THEN context ELSE context || :context_patch::jsonb END,
        output = :output, error = :error,
        lease_owner = CASE WHEN :keep_lease_seconds::float8 IS NULL THEN NULL ELSE lease_owner END,
        wake_at = CASE
            WHEN :keep_lease_seconds::float8 IS NOT NULL THEN now() + make_interval(secs => :keep_lease_seconds)
            WHEN :wake_at::timestamptz IS NOT NULL THEN :wake_at
            WHEN :wake_after_seconds::float8 IS NOT NULL THEN now() + make_interval(secs => :wake_after_seconds)
        END,
        version = version + 1, step_started_at = now(), updated_at = now(),
        finished_at = CASE WHEN :finished THEN now() END,
        pause_requested = pause_requested AND NOT :finished
    WHERE id = :execution_id AND lease_owner = :owner AND version = :version
    RETURNING id, version, pause_requested, extract(epoch FROM wake_at - now())::float8 AS wake_in
), history AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
    SELECT updated.id, h.source, h.target, h.event, :node, :history_attempt, :history_detail
    FROM updated, unnest(:sources::text[], :targets::text[], :events::text[]) AS h(source, target, event)
), waiting_step AS (
    UPDATE execution_steps s
    SET status = :step_status, output = :step_output, error = :step_error, finished_at = now()
    FROM updated
    WHERE s.execution_id = updated.id AND s.visit = :step_visit AND s.attempt = :step_attempt
      AND s.status = '{StepStatus.WAITING}'
    RETURNING s.id
), step AS (
    INSERT INTO execution_steps (execution_id, node, visit, attempt, status, input, output, error,
                                 started_at, finished_at)
    SELECT updated.id, :step_node, :step_visit, :step_attempt, :step_status, :step_input, :step_output,
           :step_error, e.step_started_at, CASE WHEN :step_status <> '{StepStatus.WAITING}' THEN now() END
    FROM updated JOIN executions e ON e.id = updated.id
    WHERE :step_node::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM waiting_step)
)
SELECT version, pause_requested, wake_in FROM updated
""")


@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed step left behind."""

    version: int
    pause_requested: bool
    wake_in_seconds: float | None


class UnstorableResultError(PermanentStepError):
    """The step's result cannot be stored (not JSON, or out of the database's range)."""

    code = "unstorable_result"


async def commit_step(conn: Conn, commit: StepCommit) -> Committed | None:
    """Write a step's outcome and transitions; None when the worker no longer holds the lease."""
    try:
        row = await conn.fetchrow(_COMMIT_STEP.sql, *_commit_args(commit))
    except (asyncpg.DataError, TypeError, ValueError, OverflowError) as exc:
        raise UnstorableResultError(f"the step's result cannot be stored: {exc}") from exc
    if row is None:
        return None
    return Committed(row["version"], row["pause_requested"], row["wake_in"])


def _commit_args(commit: StepCommit) -> list[JSONValue]:
    step = commit.step
    return _COMMIT_STEP.args(
        execution_id=commit.lease.execution_id,
        owner=commit.lease.owner,
        version=commit.lease.version,
        state=commit.state,
        current_node=commit.current_node,
        visit=commit.visit,
        attempt=commit.attempt,
        context_patch=commit.context_patch,
        output=commit.output,
        error=commit.error,
        keep_lease_seconds=commit.wake.keep_lease_seconds,
        wake_at=commit.wake.at,
        wake_after_seconds=commit.wake.after_seconds,
        finished=commit.finished,
        sources=[t.source for t in commit.transitions],
        targets=[t.target for t in commit.transitions],
        events=[t.event for t in commit.transitions],
        node=commit.node,
        history_attempt=step.attempt if step else commit.attempt,
        history_detail=commit.history_detail,
        step_node=step.node if step else None,
        step_visit=step.visit if step else None,
        step_attempt=step.attempt if step else None,
        step_status=step.status if step else None,
        step_input=step.input if step else None,
        step_output=step.output if step else None,
        step_error=step.error if step else None,
    )


_WAKE_PARENT = f"""
WITH woken AS (
    UPDATE executions p SET wake_at = now(), updated_at = now()
    WHERE p.id = $1 AND (p.state = '{DELAYED}' OR (p.state = '{PAUSED}' AND p.resume_state = '{DELAYED}'))
      AND EXISTS (SELECT 1 FROM execution_steps s
                  WHERE s.execution_id = p.id AND s.status = '{StepStatus.WAITING}'
                    AND s.output->>'child_id' = $2::text)
    RETURNING p.id
)
SELECT pg_notify('{WAKE_CHANNEL}', '') FROM woken
"""


async def wake_parent(conn: Conn, parent_id: uuid.UUID, child_id: uuid.UUID) -> None:
    """Make a parent due now if it waits on this child (a paused one runs as soon as it resumes)."""
    await conn.execute(_WAKE_PARENT, parent_id, str(child_id))


_CHILD_ENDED = "SELECT state = ANY($2::text[]) FROM executions WHERE id = $1 FOR SHARE"


async def child_has_ended(conn: Conn, child_id: uuid.UUID) -> bool:
    """Whether the child has ended, holding its row until the transaction ends so it cannot end unseen."""
    return bool(await conn.fetchval(_CHILD_ENDED, child_id, sorted(TERMINAL_STATES)))
