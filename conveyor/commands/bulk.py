"""Pause, resume, cancel or retry many executions at once: set-based, a batch of rows per statement."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import structlog

from conveyor.errors import IllegalTransitionError
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import CANCELLED
from conveyor.statemachines import moves as moves_of
from conveyor.statemachines.operator_moves import Move, PauseRequest, plan_move
from conveyor.store import Pool, connection, transaction
from conveyor.store.audit_trail import Actor, record_executions
from conveyor.store.bulk import BatchMove, Situation, apply_batch, count_situations, lock_batch
from conveyor.store.descendants import cancel_descendants
from conveyor.store.selection import Key, Selection, page_keys

log = structlog.get_logger(__name__)

# Rows per statement: big enough to amortise a round trip, small enough to hold few locks for long.
BATCH_SIZE = 1000


@dataclass(slots=True)
class BulkOutcome:
    """What a bulk operation changed (or, in a dry run, would change), by the state each execution was in."""

    event: str
    dry_run: bool
    changed: Counter[str] = field(default_factory=Counter)
    # Running steps asked to pause after they commit (or such a request withdrawn): pending, not yet paused.
    pause_requested: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # the state does not allow the event
    # Held by another transaction at that moment, or moved out of the selection meanwhile.
    busy: int = 0

    def as_json(self) -> JSONObject:
        """The answer's shape: totals, and counts by state."""

        def part(counts: Counter[str]) -> JSONObject:
            return {"total": counts.total(), "by_state": dict(sorted(counts.items()))}

        return {
            "event": self.event,
            "dry_run": self.dry_run,
            "changed": part(self.changed),
            "pause_requested": part(self.pause_requested),
            "skipped": part(self.skipped),
            "busy": self.busy,
        }


class _Planner:
    """Each distinct situation goes through the machine once, however many executions share it."""

    def __init__(self, event: str) -> None:
        self.event = event
        self._plans: dict[Situation, Move | PauseRequest | None] = {}

    def plan(self, s: Situation) -> Move | PauseRequest | None:
        if s not in self._plans:
            try:
                self._plans[s] = plan_move(
                    self.event, s.state, s.resume_state, in_flight=s.in_flight, pause_requested=s.pause_requested
                )
            except IllegalTransitionError:
                self._plans[s] = None
        return self._plans[s]


async def bulk_operate(
    pool: Pool, event: str, selection: Selection, *, dry_run: bool = False, actor: Actor | None = None
) -> BulkOutcome:
    """Apply `event` to every selected execution its state allows, a batch per transaction; count the rest.

    The `actor` is named in each changed execution's history and, execution by execution, in the audit trail,
    in the transaction of its batch.
    """
    outcome = BulkOutcome(event, dry_run)
    detail: JSONObject = (actor.detail() if actor is not None else {"by": "operator"}) | {"bulk": True}
    planner = _Planner(event)
    if dry_run:
        async with connection(pool) as conn:
            situations = await count_situations(conn, selection)
        for situation, n in situations.items():
            _tally(outcome, situation, planner.plan(situation), n)
        return outcome
    after: Key | None = None
    while True:
        async with transaction(pool) as conn:
            keys = await page_keys(conn, selection, after, BATCH_SIZE)
            if not keys:
                break
            after = keys[-1]
            locked = await lock_batch(conn, selection, [execution_id for _, execution_id in keys])
            outcome.busy += len(keys) - len(locked)
            moves: list[BatchMove] = []
            flags = {}
            for row in locked:
                plan = planner.plan(row.situation)
                _tally(outcome, row.situation, plan, 1)
                if isinstance(plan, Move):
                    moves.append(
                        BatchMove(row.id, plan.state, plan.resume_state, plan.wake, plan.restart, plan.transitions)
                    )
                elif isinstance(plan, PauseRequest):
                    flags[row.id] = plan.requested
            if moves or flags:
                await apply_batch(conn, moves, flags, detail)
            if actor is not None:
                await record_executions(conn, actor, event, [m.id for m in moves] + list(flags))
            cancelled = [m.id for m in moves if m.state == CANCELLED]
            if cancelled:  # as for one cancel: their children, at any depth, go with them
                await cancel_descendants(conn, cancelled, moves_of("cancel"), detail)
        if len(keys) < BATCH_SIZE:
            break
    log.info(
        "executions_operated_in_bulk", operation=event, **{k: v for k, v in outcome.as_json().items() if k != "event"}
    )
    return outcome


def _tally(outcome: BulkOutcome, situation: Situation, plan: Move | PauseRequest | None, n: int) -> None:
    if plan is None:
        outcome.skipped[situation.state] += n
    elif isinstance(plan, PauseRequest):
        outcome.pause_requested[situation.state] += n
    else:
        outcome.changed[situation.state] += n
