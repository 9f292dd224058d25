"""Executions: creation, claiming under a lease, fenced step commits, operator transitions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from conveyor.engine.store import Conn
from conveyor.errors import NotFoundError, PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import Transition

WAKE_CHANNEL = "conveyor_wake"


@dataclass(frozen=True, slots=True)
class Execution:
    """One run of a workflow, as stored."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    state: str
    resume_state: str | None
    current_node: str | None
    visit: int
    attempt: int
    generation: int
    input: JSONObject
    context: JSONObject
    output: JSONValue
    error: JSONValue
    wake_at: datetime | None
    lease_owner: str | None
    version: int
    pause_requested: bool
    parent_id: uuid.UUID | None
    parent_node: str | None
    dedupe_key: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


_COLUMNS = ", ".join(Execution.__slots__)


_E_COLUMNS = ", ".join("e." + c for c in _COLUMNS.split(", "))


def _execution(row: asyncpg.Record) -> Execution:
    return Execution(*row.values())


def _history_columns(transitions: Sequence[Transition]) -> tuple[list[str], list[str], list[str]]:
    """Transitions as the three arrays the history INSERTs unnest: sources, targets, events."""
    return [t.source for t in transitions], [t.target for t in transitions], [t.event for t in transitions]


_INSERT = """
WITH inserted AS (
    INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input,
                            wake_at, parent_id, parent_node, dedupe_key)
    VALUES ($1, $2, $3, 'idle', $4, 1, 1, $5, now(), $6, $7, $8)
    ON CONFLICT {target} DO NOTHING
    RETURNING {columns}
), notified AS (
    SELECT pg_notify('{channel}', '') FROM inserted
)
SELECT {columns}, true AS created FROM inserted, notified
"""
_INSERT_TOP = _INSERT.format(
    target="(workflow_id, dedupe_key) WHERE dedupe_key IS NOT NULL AND parent_id IS NULL",
    columns=_COLUMNS,
    channel=WAKE_CHANNEL,
)
_INSERT_CHILD = _INSERT.format(
    target="(parent_id, dedupe_key) WHERE parent_id IS NOT NULL", columns=_COLUMNS, channel=WAKE_CHANNEL
)
_BY_DEDUPE_KEY = f"""
SELECT {_COLUMNS}, false AS created FROM executions
WHERE workflow_id = $1 AND dedupe_key = $2 AND parent_id IS NULL
"""
_CHILD_BY_KEY = f"SELECT {_COLUMNS}, false AS created FROM executions WHERE parent_id = $1 AND dedupe_key = $2"


@dataclass(frozen=True, slots=True)
class NewExecution:
    """What it takes to start an execution."""

    workflow_id: uuid.UUID
    workflow_version: int
    start_node: str
    input: JSONObject
    dedupe_key: str | None = None
    parent_id: uuid.UUID | None = None
    parent_node: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


async def insert_execution(conn: Conn, new: NewExecution) -> tuple[Execution, bool]:
    """Create an idle execution due now; with a known dedupe key, return the existing one instead."""
    row = await conn.fetchrow(
        _INSERT_TOP if new.parent_id is None else _INSERT_CHILD,
        new.id,
        new.workflow_id,
        new.workflow_version,
        new.start_node,
        new.input,
        new.parent_id,
        new.parent_node,
        new.dedupe_key,
    )
    if row is None:
        if new.parent_id is None:
            row = await conn.fetchrow(_BY_DEDUPE_KEY, new.workflow_id, new.dedupe_key)
        else:
            row = await conn.fetchrow(_CHILD_BY_KEY, new.parent_id, new.dedupe_key)
        assert row is not None, "a conflicting dedupe key names an execution"
    values = list(row.values())
    return Execution(*values[:-1]), bool(values[-1])


_GET = f"SELECT {_COLUMNS} FROM executions WHERE id = $1"


async def get_execution(conn: Conn, execution_id: uuid.UUID, *, for_update: bool = False) -> Execution:
    """Load an execution, optionally locking its row for the rest of the transaction."""
    row = await conn.fetchrow(_GET + (" FOR UPDATE" if for_update else ""), execution_id)
    if row is None:
        raise NotFoundError(f"execution {execution_id} not found", field="id", value=str(execution_id))
    return _execution(row)


_CHILD = f"SELECT {_COLUMNS} FROM executions WHERE parent_id = $1 AND dedupe_key = $2"


async def find_child(conn: Conn, parent_id: uuid.UUID, dedupe_key: str) -> Execution | None:
    """The child execution a parent started under this key, if any."""
    row = await conn.fetchrow(_CHILD, parent_id, dedupe_key)
    return _execution(row) if row else None


_LOCK_DUE = f"""
SELECT {_COLUMNS} FROM executions
WHERE wake_at <= now() AND state <> 'paused' AND id <> ALL($2::uuid[])
ORDER BY wake_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


async def lock_due(conn: Conn, limit: int, in_flight: Sequence[uuid.UUID]) -> list[Execution]:
    """Lock up to `limit` executions that need a worker now, skipping rows others hold and our own in flight."""
    return [_execution(r) for r in await conn.fetch(_LOCK_DUE, limit, list(in_flight))]


@dataclass(frozen=True, slots=True)
class Claim:
    """An execution a worker takes, with the transition the take makes."""

    execution: Execution
    transition: Transition


_MARK_CLAIMED = f"""
WITH claimed AS (
    UPDATE executions e
    SET state = c.target, lease_owner = $2,
        lease_expires_at = now() + make_interval(secs => $3), wake_at = now() + make_interval(secs => $3),
        version = e.version + 1, started_at = coalesce(e.started_at, now()), step_started_at = now(),
        updated_at = now()
    FROM unnest($1::uuid[], $4::text[]) AS c(id, target)
    WHERE e.id = c.id
    RETURNING {_E_COLUMNS}
), history AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
    SELECT h.id, h.source, h.target, h.event, e.current_node, e.attempt, h.detail
    FROM unnest($1::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[]) AS h(id, target, source, event, detail)
    JOIN claimed e ON e.id = h.id
)
SELECT * FROM claimed
"""


async def mark_claimed(conn: Conn, owner: str, lease_seconds: float, claims: Sequence[Claim]) -> list[Execution]:
    """Give the locked executions to `owner` and record the transition that took each one."""
    rows = await conn.fetch(
        _MARK_CLAIMED,
        [c.execution.id for c in claims],
        owner,
        lease_seconds,
        [c.transition.target for c in claims],
        [c.transition.source for c in claims],
        [c.transition.event for c in claims],
        [{"worker": owner, "previous_owner": c.execution.lease_owner} for c in claims],
    )
    return [_execution(r) for r in rows]


@dataclass(frozen=True, slots=True)
class StepRecord:
    """The outcome of one attempt of one node, for the steps table."""

    node: str
    visit: int
    attempt: int
    status: str
    input: JSONValue
    output: JSONValue
    error: JSONValue


@dataclass(frozen=True, slots=True)
class StepCommit:
    """Everything one step changes, written in one statement and fenced on the lease."""

    execution_id: uuid.UUID
    owner: str
    version: int
    state: str
    resume_state: str | None
    current_node: str | None
    visit: int
    attempt: int
    transitions: Sequence[Transition]
    history_node: str | None
    history_attempt: int
    history_detail: JSONObject | None
    step: StepRecord | None
    context_patch: JSONObject | None = None
    output: JSONValue = None
    error: JSONValue = None
    keep_lease_seconds: float | None = None
    wake_after_seconds: float | None = None
    wake_at: datetime | None = None
    finished: bool = False


_COMMIT_STEP = """
WITH updated AS (
    UPDATE executions
    SET state = $4, resume_state = $5, current_node = $6, visit = $7, attempt = $8,
        context = CASE WHEN $9::jsonb IS NULL THEN context ELSE context || $9::jsonb END,
        output = $10, error = $11,
        lease_owner = CASE WHEN $12::float8 IS NULL THEN NULL ELSE lease_owner END,
        lease_expires_at = now() + make_interval(secs => $12),
        wake_at = CASE
            WHEN $12::float8 IS NOT NULL THEN now() + make_interval(secs => $12)
            WHEN $13::timestamptz IS NOT NULL THEN $13
            WHEN $14::float8 IS NOT NULL THEN now() + make_interval(secs => $14)
        END,
        version = version + 1, step_started_at = now(), updated_at = now(),
        finished_at = CASE WHEN $15 THEN now() END,
        pause_requested = pause_requested AND NOT $15
    WHERE id = $1 AND lease_owner = $2 AND version = $3
    RETURNING id, version, pause_requested, extract(epoch FROM wake_at - now())::float8 AS wake_in
), history AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
    SELECT updated.id, h.source, h.target, h.event, $19, $20, $21
    FROM updated, unnest($16::text[], $17::text[], $18::text[]) AS h(source, target, event)
), waiting_step AS (
    UPDATE execution_steps s
    SET status = $25, output = $27, error = $28, finished_at = now()
    FROM updated
    WHERE s.execution_id = updated.id AND s.visit = $23 AND s.attempt = $24 AND s.status = 'waiting'
    RETURNING s.id
), step AS (
    INSERT INTO execution_steps (execution_id, node, visit, attempt, status, input, output, error,
                                 started_at, finished_at)
    SELECT updated.id, $22, $23, $24, $25, $26, $27, $28, e.step_started_at,
           CASE WHEN $25 <> 'waiting' THEN now() END
    FROM updated JOIN executions e ON e.id = updated.id
    WHERE $22::text IS NOT NULL AND NOT EXISTS (SELECT 1 FROM waiting_step)
)
SELECT version, pause_requested, wake_in FROM updated
"""


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
        row = await _commit_step(conn, commit)
    except (asyncpg.DataError, TypeError, ValueError, OverflowError) as exc:
        raise UnstorableResultError(f"the step's result cannot be stored: {exc}") from exc
    if row is None:
        return None
    return Committed(row["version"], row["pause_requested"], row["wake_in"])


async def _commit_step(conn: Conn, commit: StepCommit) -> asyncpg.Record | None:
    step = commit.step
    return await conn.fetchrow(
        _COMMIT_STEP,
        commit.execution_id,
        commit.owner,
        commit.version,
        commit.state,
        commit.resume_state,
        commit.current_node,
        commit.visit,
        commit.attempt,
        commit.context_patch,
        commit.output,
        commit.error,
        commit.keep_lease_seconds,
        commit.wake_at,
        commit.wake_after_seconds,
        commit.finished,
        *_history_columns(commit.transitions),
        commit.history_node,
        commit.history_attempt,
        commit.history_detail,
        step.node if step else None,
        step.visit if step else None,
        step.attempt if step else None,
        step.status if step else None,
        step.input if step else None,
        step.output if step else None,
        step.error if step else None,
    )


_WAKE_PARENT = f"""
WITH woken AS (
    UPDATE executions p SET wake_at = now(), updated_at = now()
    WHERE p.id = $1 AND (p.state = 'delayed' OR (p.state = 'paused' AND p.resume_state = 'delayed'))
      AND EXISTS (SELECT 1 FROM execution_steps s
                  WHERE s.execution_id = p.id AND s.status = 'waiting' AND s.output->>'child_id' = $2::text)
    RETURNING p.id
)
SELECT pg_notify('{WAKE_CHANNEL}', '') FROM woken
"""


async def wake_parent(conn: Conn, parent_id: uuid.UUID, child_id: uuid.UUID) -> None:
    """Make a parent due now if it waits on this child (a paused one runs as soon as it resumes)."""
    await conn.execute(_WAKE_PARENT, parent_id, str(child_id))


_CHILD_ENDED = """
SELECT state IN ('completed', 'failed', 'cancelled') FROM executions WHERE id = $1 FOR SHARE
"""


async def child_has_ended(conn: Conn, child_id: uuid.UUID) -> bool:
    """Whether the child has ended, holding its row until the transaction ends so it cannot end unseen."""
    return bool(await conn.fetchval(_CHILD_ENDED, child_id))


_RENEW = """
UPDATE executions
SET lease_expires_at = now() + make_interval(secs => $3), wake_at = now() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND lease_owner = $2
RETURNING id
"""


async def renew_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], lease_seconds: float) -> set[uuid.UUID]:
    """Extend the leases `owner` still holds; return the ids it still holds."""
    return {r["id"] for r in await conn.fetch(_RENEW, list(ids), owner, lease_seconds)}


_RELEASE = f"""
WITH released AS (
    UPDATE executions
    SET lease_owner = NULL, lease_expires_at = NULL, wake_at = now() + make_interval(secs => $3),
        version = version + 1
    WHERE id = ANY($1::uuid[]) AND lease_owner = $2
    RETURNING id
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM released
"""


async def release_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], after_seconds: float = 0.0) -> int:
    """Hand executions back so another worker takes them (after `after_seconds`) without waiting out the lease."""
    row = await conn.fetchrow(_RELEASE, list(ids), owner, after_seconds)
    return int(row["n"]) if row else 0


_NEXT_DUE = """
SELECT extract(epoch FROM min(wake_at) - now())::float8
FROM executions WHERE wake_at IS NOT NULL AND state <> 'paused' AND id <> ALL($1::uuid[])
"""


async def seconds_until_next_due(conn: Conn, in_flight: Sequence[uuid.UUID] = ()) -> float | None:
    """How long until the next execution (not one we run) needs a worker, by the database's clock."""
    value: float | None = await conn.fetchval(_NEXT_DUE, list(in_flight))
    return value


_OPERATOR_UPDATE = f"""
WITH updated AS (
    UPDATE executions
    SET state = $2, resume_state = $3, attempt = $4, pause_requested = false,
        wake_at = CASE $5 WHEN 'now' THEN now() WHEN 'clear' THEN NULL ELSE wake_at END,
        lease_owner = NULL, lease_expires_at = NULL,
        finished_at = CASE WHEN $6 THEN now() END,
        error = CASE WHEN $5 = 'now' AND $2 = 'running' THEN NULL ELSE error END,
        generation = generation + CASE WHEN $11 THEN 1 ELSE 0 END,
        version = version + 1, updated_at = now()
    WHERE id = $1
    RETURNING id, current_node, attempt
), history AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
    SELECT u.id, h.source, h.target, h.event, u.current_node, u.attempt, $10
    FROM updated u, unnest($7::text[], $8::text[], $9::text[]) AS h(source, target, event)
)
-- Anything left waiting for a worker may now be due sooner than the workers' timers say.
SELECT pg_notify('{WAKE_CHANNEL}', '') FROM updated WHERE $2 NOT IN ('paused', 'completed', 'failed', 'cancelled')
"""


@dataclass(frozen=True, slots=True)
class OperatorChange:
    """A change an operator asks for (pause, resume, cancel, retry), already run through the machine."""

    execution_id: uuid.UUID
    state: str
    resume_state: str | None
    attempt: int
    wake: str  # 'now', 'keep' or 'clear'
    finished: bool
    transitions: Sequence[Transition]
    detail: JSONObject
    new_generation: bool = False


async def apply_operator_change(conn: Conn, change: OperatorChange) -> None:
    """Write an operator's change and its history rows; the execution leaves any worker's hands."""
    await conn.execute(
        _OPERATOR_UPDATE,
        change.execution_id,
        change.state,
        change.resume_state,
        change.attempt,
        change.wake,
        change.finished,
        *_history_columns(change.transitions),
        change.detail,
        change.new_generation,
    )


_FLAG_PAUSE = "UPDATE executions SET pause_requested = $2, updated_at = now() WHERE id = $1"


async def set_pause_requested(conn: Conn, execution_id: uuid.UUID, requested: bool) -> None:
    """Ask the worker running a step to pause after it, or withdraw that request."""
    await conn.execute(_FLAG_PAUSE, execution_id, requested)
