"""The clock stage of the poller: due clock-driven triggers (schedules) write one inbox row per tick.

One transaction, two statements whatever the batch: a locking read of the due triggers (`next_run_at <=
now()` by the database's clock, `FOR UPDATE SKIP LOCKED`), and one write of the tick rows (`ON CONFLICT DO
NOTHING` on the trigger's dedupe key `schedule:<trigger>:<tick>`, so no tick is written twice) together
with each trigger's next due time and skipped count. The inbox stage then turns the rows into executions.
"""

from __future__ import annotations

import uuid

import structlog

from conveyor.engine.stage import batch_stage
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool, transaction
from conveyor.store.due_triggers import Advance, DueTrigger, fire_ticks, lock_due_triggers
from conveyor.triggers.kinds import CLOCK_TYPES, kind_of

log = structlog.get_logger(__name__)


async def fire_due_triggers(pool: Pool, cache: TriggerCache, limit: int) -> int:
    """Fire up to `limit` due triggers in one transaction; return how many were due."""
    async with transaction(pool) as conn:
        due = await lock_due_triggers(conn, CLOCK_TYPES, limit)
        if not due:
            return 0
        rows: list[tuple[uuid.UUID, str, JSONObject, str]] = []
        advances = []
        for trigger in due:
            advance, ticks = _fire(trigger, cache)
            advances.append(advance)
            rows.extend(ticks)
        written = await fire_ticks(conn, rows, advances)
    for a in advances:
        bound = log.bind(trigger_id=str(a.trigger_id))
        if a.error is not None:
            bound.warning("trigger_failed", error=a.error)
        elif a.skipped:
            bound.info("trigger_ticks_skipped", skipped=a.skipped)
    log.debug("clock_triggers_fired", due=len(due), rows=written)
    return len(due)


def _fire(due: DueTrigger, cache: TriggerCache) -> tuple[Advance, list[tuple[uuid.UUID, str, JSONObject, str]]]:
    try:
        trigger = cache.get(due.id, due.version, due.definition)
        fire = kind_of(trigger).fire
        assert fire is not None, "only clock-driven kinds are locked as due"
        firing = fire(trigger, str(due.id), due.next_run_at, due.now, due.fired)
    except (ValidationError, ValueError) as exc:
        # the trigger stays in error, unscheduled, until an operator updates or re-enables it
        return Advance(due.id, None, 0, f"{type(exc).__name__}: {exc}"[:1000]), []
    ticks = [(due.id, trigger.type, t.payload, t.dedupe_key) for t in firing.ticks]
    return Advance(due.id, firing.next_run_at, firing.skipped, None, len(ticks)), ticks


STAGE = batch_stage(fire_due_triggers)
