"""Operators' changes to many executions: locking a batch, and writing its moves and history in one statement."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import PAUSED, RUNNING, TERMINAL_STATES, Transition
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import in_delay
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.selection import Selection, where
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Situation:
    """What decides an operator event's effect on an execution."""

    state: str
    resume_state: str | None
    in_flight: bool  # a worker runs its step right now
    pause_requested: bool


@dataclass(frozen=True, slots=True)
class Locked:
    """An execution of a batch, locked for the rest of the transaction."""

    id: uuid.UUID
    situation: Situation


_SITUATION = f"state, resume_state, (state = '{RUNNING}' AND lease_owner IS NOT NULL) AS in_flight, pause_requested"
_COUNT = f"SELECT {_SITUATION}, count(*) AS n FROM executions WHERE {{where}} GROUP BY 1, 2, 3, 4"


async def count_situations(conn: Conn, selection: Selection) -> dict[Situation, int]:
    """How many selected executions are in each situation (a dry run's answer; reads, locks nothing)."""
    clause, values = where(selection)
    statement = Statement(_COUNT.format(where=clause))
    rows = await conn.fetch(statement.sql, *statement.args(**values))
    return {Situation(r["state"], r["resume_state"], r["in_flight"], r["pause_requested"]): r["n"] for r in rows}


# Re-checks the selection: a row may have moved on since its key was read.
_LOCK = f"SELECT id, {_SITUATION} FROM executions WHERE id = ANY(:batch::uuid[]) AND {{where}} FOR UPDATE SKIP LOCKED"


async def lock_batch(conn: Conn, selection: Selection, ids: Sequence[uuid.UUID]) -> list[Locked]:
    """Lock those of `ids` that still match and that no other transaction holds; skip the rest."""
    clause, values = where(selection)
    statement = Statement(_LOCK.format(where=clause))
    rows = await conn.fetch(statement.sql, *statement.args(**values, batch=list(ids)))
    return [
        Locked(r["id"], Situation(r["state"], r["resume_state"], r["in_flight"], r["pause_requested"])) for r in rows
    ]


@dataclass(frozen=True, slots=True)
class BatchMove:
    """One execution's move, already run through the machine."""

    id: uuid.UUID
    state: str
    resume_state: str | None
    wake: str  # now | keep | clear
    restart: bool
    transitions: Sequence[Transition]


_APPLY = Statement(f"""
WITH moved AS (
    UPDATE executions e
    SET state = m.state, resume_state = m.resume_state, pause_requested = false, lease_owner = NULL,
        attempt = CASE WHEN m.restart THEN 1 ELSE e.attempt END,
        generation = e.generation + CASE WHEN m.restart THEN 1 ELSE 0 END,
        wake_at = CASE m.wake WHEN 'now' THEN now() WHEN 'clear' THEN NULL ELSE e.wake_at END,
        finished_at = CASE WHEN m.state = ANY(:terminal::text[]) THEN now() END,
        error = CASE WHEN m.wake = 'now' AND m.state = '{RUNNING}' THEN NULL ELSE e.error END,
        version = e.version + 1, updated_at = now()
    FROM unnest(:ids::uuid[], :states::text[], :resume_states::text[], :wakes::text[], :restarts::bool[])
        AS m(id, state, resume_state, wake, restart)
    WHERE e.id = m.id
    RETURNING e.id, e.state, e.current_node, e.attempt, e.parent_id
), history AS (
    {INSERT_HISTORY}
    SELECT h.id, h.source, h.target, h.event, m.current_node, m.attempt, :detail
    FROM unnest(:history_ids::uuid[], :sources::text[], :targets::text[], :events::text[])
        AS h(id, source, target, event)
    JOIN moved m ON m.id = h.id
), flagged AS (
    UPDATE executions e SET pause_requested = f.requested, updated_at = now()
    FROM unnest(:flag_ids::uuid[], :flags::bool[]) AS f(id, requested)
    WHERE e.id = f.id
    RETURNING e.id
), woken AS (
    -- A parent waiting on a child that just ended runs now, to see it; one in this batch is moved above.
    UPDATE executions p SET wake_at = now(), updated_at = now()
    WHERE p.id IN (SELECT parent_id FROM moved WHERE state = ANY(:terminal::text[]))
      AND p.id <> ALL(:ids::uuid[])
      AND {in_delay("p")}
    RETURNING p.id
), notified AS (
    -- Once per batch: anything left due may now be due sooner than the workers' timers say.
    SELECT pg_notify('{WAKE_CHANNEL}', '')
    FROM (SELECT id FROM moved WHERE state <> ALL(:resting::text[]) UNION ALL SELECT id FROM woken) due
    LIMIT 1
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM flagged) AS flagged,
       (SELECT count(*) FROM notified) AS notified
""")
# States in which nothing waits for a worker.
_RESTING = sorted(TERMINAL_STATES | {PAUSED})


async def apply_batch(
    conn: Conn, moves: Sequence[BatchMove], pause_flags: dict[uuid.UUID, bool], detail: JSONObject
) -> None:
    """Write a batch's moves with their history rows, and its pause requests, in one statement."""
    history = [(m.id, t) for m in moves for t in m.transitions]
    await conn.execute(
        _APPLY.sql,
        *_APPLY.args(
            ids=[m.id for m in moves],
            states=[m.state for m in moves],
            resume_states=[m.resume_state for m in moves],
            wakes=[m.wake for m in moves],
            restarts=[m.restart for m in moves],
            history_ids=[execution_id for execution_id, _ in history],
            sources=[t.source for _, t in history],
            targets=[t.target for _, t in history],
            events=[t.event for _, t in history],
            flag_ids=list(pause_flags),
            flags=list(pause_flags.values()),
            detail=detail,
            terminal=sorted(TERMINAL_STATES),
            resting=_RESTING,
        ),
    )
