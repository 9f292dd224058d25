"""Step commits: a step's outcome, the execution's next state and its history, in one fenced statement."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.statemachines import TERMINAL_STATES, Transition
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import in_delay
from conveyor.store.history import INSERT_HISTORY, Step, StepStatus
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Lease:
    """A worker's hold on an execution: every write it makes is fenced on both fields."""

    execution_id: uuid.UUID
    owner: str
    version: int


@dataclass(frozen=True, slots=True)
class Wake:
    """When the execution next needs a worker: under the lease still, at a time, after a while, or never.

    A step that keeps the lease leaves `wake_at` (the lease's end) as it is: the lease keeper renews it, and a
    step that changes no indexed column is a HOT update, unless `renew_seconds` asks for a fresh lease (the
    first step after a held sleep, whose `wake_at` was the sleep's).

    A held sleep (`hold_seconds`) keeps the lease through a short delay: its worker wakes it in memory, and the
    row's `wake_at` is the due time plus `hold_seconds`, when any worker may take it should its holder die.
    """

    keep_lease: bool = False
    at: datetime | None = None
    after_seconds: float | None = None
    renew_seconds: float | None = None
    hold_seconds: float | None = None


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
    # The team's action the execution's next node runs (None: a built-in kind or action, any worker runs it).
    action: str | None = None
    # The execution's timeout: a resting execution is due by then at the latest, to be cancelled (never when it
    # ends with this step).
    deadline: datetime | None = None


# Many executions' step commits in one statement. The group travels as one JSON array, an object per commit
# (`ord` is its position, `transitions` its moves in order): one encoding per group rather than an array per
# field whose every element the driver checks and encodes. Each row is fenced on its own lease and version; a
# commit that lost its lease updates nothing and leaves the others be. `wake_in` counts from the statement's
# end (`clock_timestamp()`), not its start: a held sleep is timed from it, and must not wake late by the
# statement's own time.
_COMMIT_STEPS = Statement(f"""
WITH c AS (
    SELECT * FROM jsonb_to_recordset(:commits::jsonb) AS c(
        ord int, execution_id uuid, owner text, version bigint, state text, current_node text, visit int,
        attempt int, context_patch jsonb, output jsonb, error jsonb, keep_lease bool, renew float8, hold float8,
        wake_at timestamptz, wake_after float8, finished bool, node text, history_attempt int,
        history_detail jsonb, transitions jsonb, step_node text, step_visit int, step_attempt int,
        step_status text, step_input jsonb, step_output jsonb, step_error jsonb, action text, deadline timestamptz)
), updated AS (
    UPDATE executions e
    SET state = c.state, resume_state = NULL, current_node = c.current_node, visit = c.visit,
        attempt = c.attempt, action = c.action,
        context = CASE WHEN c.context_patch IS NULL THEN e.context ELSE e.context || c.context_patch END,
        output = c.output, error = c.error,
        lease_owner = CASE WHEN c.keep_lease OR c.hold IS NOT NULL THEN e.lease_owner END,
        wake_at = CASE
            WHEN c.keep_lease THEN coalesce(now() + make_interval(secs => c.renew), e.wake_at)
            ELSE least(CASE
                WHEN c.wake_at IS NOT NULL THEN c.wake_at
                WHEN c.wake_after IS NOT NULL THEN now() + make_interval(secs => c.wake_after + coalesce(c.hold, 0))
            END, c.deadline)
        END,
        version = e.version + 1, step_started_at = now(), updated_at = now(),
        finished_at = CASE WHEN c.finished THEN now() END,
        pause_requested = e.pause_requested AND NOT c.finished
    FROM c
    WHERE e.id = c.execution_id AND e.lease_owner = c.owner AND e.version = c.version
    RETURNING c.ord, e.id, e.version, e.pause_requested,
              extract(epoch FROM e.wake_at - clock_timestamp())::float8 AS wake_in
), history AS (
    {INSERT_HISTORY}
    SELECT u.id, h.move->>0, h.move->>1, h.move->>2, c.node, c.history_attempt, c.history_detail
    FROM updated u JOIN c ON c.ord = u.ord,
         jsonb_array_elements(c.transitions) WITH ORDINALITY AS h(move, n)
    ORDER BY u.ord, h.n
), waiting_step AS (
    UPDATE execution_steps s
    SET status = c.step_status, output = c.step_output, error = c.step_error, finished_at = now()
    FROM updated u JOIN c ON c.ord = u.ord
    WHERE s.execution_id = u.id AND s.visit = c.step_visit AND s.attempt = c.step_attempt
      AND s.status = '{StepStatus.WAITING}'
    RETURNING s.execution_id
), step AS (
    INSERT INTO execution_steps (execution_id, node, visit, attempt, status, input, output, error,
                                 started_at, finished_at)
    SELECT u.id, c.step_node, c.step_visit, c.step_attempt, c.step_status, c.step_input, c.step_output,
           c.step_error, e.step_started_at, CASE WHEN c.step_status <> '{StepStatus.WAITING}' THEN now() END
    FROM updated u JOIN c ON c.ord = u.ord JOIN executions e ON e.id = u.id
    WHERE c.step_node IS NOT NULL AND u.id NOT IN (SELECT execution_id FROM waiting_step)
    ORDER BY u.ord
)
SELECT ord, version, pause_requested, wake_in FROM updated
""")


@dataclass(frozen=True, slots=True)
class Committed:
    """What a committed step left behind."""

    version: int
    pause_requested: bool
    wake_in_seconds: float | None


class CommitRefusedError(PermanentStepError):
    """The database refused the step's commit: it answered with an error, so nothing of it was written."""

    code = "commit_refused"

    def __init__(self, message: str, *, sqlstate: str) -> None:
        super().__init__(message, sqlstate=sqlstate)
        self.sqlstate = sqlstate


class UnstorableResultError(CommitRefusedError):
    """The step's result cannot be stored (not JSON, or out of the database's range): refused every time."""

    code = "unstorable_result"


# SQLSTATE classes that say the database will not take what the commit holds, so the same commit would be refused
# again: a data exception, an integrity violation, a program limit exceeded (a value past jsonb's limits), and what
# a trigger or a function raised (plpgsql, triggered actions, external routines). Every other error (the
# connection lost, a read-only failover, a deadlock, a lock or resources not available, a schema or permission
# out of step with this code) is no verdict on the step's data: it passes as it is, and the step runs again.
_REFUSED_CLASSES = frozenset({"09", "22", "23", "27", "2F", "38", "39", "44", "54", "P0"})


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Raise a commit the database refused for what it holds as CommitRefusedError (UnstorableResultError for a
    result it can never take); any other failure passes as it is, to be written again."""
    try:
        yield
    except (asyncpg.DataError, TypeError, ValueError, OverflowError) as exc:
        sqlstate = exc.sqlstate if isinstance(exc, asyncpg.DataError) else "encoding"
        raise UnstorableResultError(f"the step's result cannot be stored: {exc}", sqlstate=sqlstate) from exc
    except asyncpg.PostgresError as exc:
        if str(exc.sqlstate)[:2] not in _REFUSED_CLASSES:
            raise
        message = f"the database refused the step's commit: {exc.sqlstate} {type(exc).__name__}: {exc}"
        raise CommitRefusedError(message, sqlstate=str(exc.sqlstate)) from exc


async def commit_steps(conn: Conn, commits: Sequence[StepCommit]) -> list[Committed | None]:
    """Write many executions' step outcomes in one statement; for each, None when its worker no longer holds
    the lease. One refused commit fails the statement: the caller learns which by committing one by one."""
    with refusals():
        rows = await conn.fetch(_COMMIT_STEPS.sql, *_commit_args(commits))
    by_position = {r["ord"]: Committed(r["version"], r["pause_requested"], r["wake_in"]) for r in rows}
    return [by_position.get(i) for i in range(1, len(commits) + 1)]


async def commit_step(conn: Conn, commit: StepCommit) -> Committed | None:
    """Write a step's outcome and transitions; None when the worker no longer holds the lease."""
    return (await commit_steps(conn, [commit]))[0]


def _commit_args(commits: Sequence[StepCommit]) -> list[JSONValue]:
    return _COMMIT_STEPS.args(commits=[_commit_object(i, c) for i, c in enumerate(commits, 1)])


def _commit_object(ord_: int, c: StepCommit) -> JSONObject:
    s = c.step
    return {
        "ord": ord_,
        "execution_id": str(c.lease.execution_id),
        "owner": c.lease.owner,
        "version": c.lease.version,
        "state": c.state,
        "current_node": c.current_node,
        "visit": c.visit,
        "attempt": c.attempt,
        "context_patch": c.context_patch,
        "output": c.output,
        "error": c.error,
        "keep_lease": c.wake.keep_lease,
        "renew": c.wake.renew_seconds,
        "hold": c.wake.hold_seconds,
        "wake_at": _timestamp(c.wake.at),
        "wake_after": c.wake.after_seconds,
        "finished": c.finished,
        "node": c.node,
        "history_attempt": s.attempt if s else c.attempt,
        "history_detail": c.history_detail,
        "transitions": [[t.source, t.target, t.event] for t in c.transitions],
        "step_node": s.node if s else None,
        "step_visit": s.visit if s else None,
        "step_attempt": s.attempt if s else None,
        "step_status": s.status if s else None,
        "step_input": s.input if s else None,
        "step_output": s.output if s else None,
        "step_error": s.error if s else None,
        **({"action": c.action} if c.action else {}),
        **({"deadline": _timestamp(c.deadline)} if c.deadline and not c.finished else {}),
    }


def _timestamp(at: datetime | None) -> str | None:
    # A time without a zone is UTC, as the driver reads one bound to a timestamptz.
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat()


_WAKE_PARENT = Statement(f"""
WITH woken AS (
    UPDATE executions p SET wake_at = now(), updated_at = now()
    WHERE p.id = :parent_id AND {in_delay("p")}
      AND EXISTS (SELECT 1 FROM execution_steps s
                  WHERE s.execution_id = p.id AND s.status = '{StepStatus.WAITING}'
                    AND (s.output->>'child_id' = :child_id::text OR s.output ? 'group'))
    RETURNING p.id
)
SELECT pg_notify('{WAKE_CHANNEL}', '') FROM woken
""")


_LOCK_PARENT = Statement("SELECT 1 FROM executions WHERE id = :id FOR UPDATE")


async def lock_parent(conn: Conn, parent_id: uuid.UUID) -> None:
    """Hold the parent's row to the end of the transaction. A parent that waits on a group locks its row before
    it counts the group: so either it counts this child's end, or this child's wake finds it waiting."""
    await conn.execute(_LOCK_PARENT.sql, *_LOCK_PARENT.args(id=parent_id))


async def wake_parent(conn: Conn, parent_id: uuid.UUID, child_id: uuid.UUID) -> None:
    """In the transaction that ends a child: make its parent due now if it waits on this child, or on a group of
    children (a paused one runs as soon as it resumes)."""
    await lock_parent(conn, parent_id)
    await conn.execute(_WAKE_PARENT.sql, *_WAKE_PARENT.args(parent_id=parent_id, child_id=str(child_id)))


_CHILD_ENDED = Statement("SELECT state = ANY(:ended::text[]) FROM executions WHERE id = :id FOR SHARE")


async def child_has_ended(conn: Conn, child_id: uuid.UUID) -> bool:
    """Whether the child has ended, holding its row until the transaction ends so it cannot end unseen."""
    return bool(await conn.fetchval(_CHILD_ENDED.sql, *_CHILD_ENDED.args(ended=sorted(TERMINAL_STATES), id=child_id)))
