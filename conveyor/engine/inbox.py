"""The inbox stage of the poller: pending trigger rows become executions, in batches.

Each batch is one transaction of exactly two statements whatever its size (plus BEGIN and COMMIT): a
locking read of up to `limit` pending rows (`FOR UPDATE SKIP LOCKED`, so workers share the inbox without
double-starting) joined to their triggers, and one write that inserts the executions (`ON CONFLICT DO
NOTHING` on the trigger's own dedupe key space), marks every row consumed with its outcome, stores the
rows fanned out to event triggers, records applications' events (rows without a trigger) in the event log
for waits, updates the triggers' counters and health, and NOTIFYs the workers.
Between the two, filters run here, compiled once per trigger version. A row that breaks is consumed as
`error` with its reason and never holds up the rows behind it.

Outcomes: `started` (with the execution; the reason names the caps it runs under), `coalesced` (the row
joined its group, see engine/coalescing.py, and names the execution once its group starts), `filtered`,
`error` (with the reason), `disabled` (the trigger is disabled or deleted, or no event trigger has the
row's type), `duplicate` (an execution for this trigger and dedupe key exists), `routed` (a row naming
only an event type, fanned out into one consumed row per matching event trigger).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

import structlog

from conveyor.concurrency import NO_SLOTS, describe, slots_with
from conveyor.engine.metrics import TRIGGER_ROWS
from conveyor.engine.stage import batch_stage
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.errors import ValidationError
from conveyor.render_thread import off_loop
from conveyor.rules import RuleError
from conveyor.statemachines import INITIAL_STATE
from conveyor.store import Pool, transaction
from conveyor.store.inbox import PendingRow, Verdict, consume, lock_pending
from conveyor.triggers.coalesce import group_key

log = structlog.get_logger(__name__)

# Longer dedupe keys are hashed for the executions' key, which a btree index must hold.
_MAX_KEY_CHARS = 200


async def consume_inbox(pool: Pool, cache: TriggerCache, limit: int) -> int:
    """Consume up to `limit` pending rows in one transaction; return how many were consumed."""
    async with transaction(pool) as conn:
        pending = await lock_pending(conn, limit)
        if not pending:
            return 0
        # Filters and keys are evaluated off the event loop: each is bounded, but a batch of them adds up.
        verdicts = await off_loop(lambda: list(_verdicts(pending, cache)))
        done = await consume(conn, INITIAL_STATE, verdicts)
    for trigger_id, outcome, count in done.outcomes:
        TRIGGER_ROWS.labels(trigger=str(trigger_id) if trigger_id else "", outcome=outcome).inc(count)
    for trigger_id, was, status, error in done.status_changes:
        (log.warning if status == "error" else log.info)(
            "trigger_status_changed", trigger_id=str(trigger_id), was=was, status=status, error=error
        )
    rows = len({p.id for p in pending})
    log.debug("inbox_consumed", rows=rows, started=done.started)
    return rows


def _verdicts(pending: Sequence[PendingRow], cache: TriggerCache) -> Iterable[Verdict]:
    by_row: dict[int, list[PendingRow]] = defaultdict(list)
    for p in pending:
        by_row[p.id].append(p)
    for row_id, pairs in by_row.items():
        first = pairs[0]
        if first.broadcast and first.trigger_id is not None:
            yield Verdict(row_id, None, False, "routed", f"to {len(pairs)} event trigger(s)")
            yield from (_verdict(p, cache, fanned_out=True) for p in pairs)
        else:
            yield _verdict(first, cache, fanned_out=False)


def _verdict(p: PendingRow, cache: TriggerCache, *, fanned_out: bool) -> Verdict:
    if p.trigger_id is None or p.definition is None:
        reason = f"no event trigger of type {p.type!r}" if p.broadcast else "the trigger was deleted"
        return Verdict(p.id, None, fanned_out, "disabled", reason)
    if not p.enabled:
        return Verdict(p.id, p.trigger_id, fanned_out, "disabled", "the trigger is disabled")
    try:
        payload = json.loads(p.payload)
        if not isinstance(payload, dict):
            raise ValueError(f"the payload is a JSON {type(payload).__name__}, not an object")
        assert p.trigger_version is not None
        trigger = cache.get(p.trigger_id, p.trigger_version, p.definition)
        accepted = trigger.accepts(payload)
        coalesce = trigger.coalesce if accepted else None
        key = group_key(coalesce, payload) if coalesce else None
        caps = json.loads(p.caps) if p.caps else None
        slots = slots_with(caps, trigger.concurrency, payload) if accepted and not coalesce else NO_SLOTS
    except (RuleError, ValidationError, ValueError, RecursionError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:1000]
        return Verdict(p.id, p.trigger_id, fanned_out, "error", reason)
    if not accepted:
        return Verdict(p.id, p.trigger_id, fanned_out, "filtered")
    if coalesce is not None:
        return Verdict(
            p.id,
            p.trigger_id,
            fanned_out,
            "coalesced",
            f"waiting in group {key!r}",
            coalesce_key=key,
            quiet=coalesce.quiet.total_seconds(),
            max_wait=coalesce.max_wait.total_seconds(),
        )
    return Verdict(
        p.id,
        p.trigger_id,
        fanned_out,
        "started",
        describe(slots),
        execution_id=uuid.uuid4(),
        execution_key=execution_key(p.dedupe_key, p.id),
        workflow_id=p.workflow_id,
        workflow_version=p.workflow_version,
        start_node=p.start_node,
        slots=slots,
    )


def execution_key(dedupe_key: str | None, row_id: int) -> str:
    """The dedupe key, in its trigger's own space, of the execution a row starts."""
    if dedupe_key is None:
        return f"row:{row_id}"
    if len(dedupe_key) > _MAX_KEY_CHARS:
        return "sha256:" + hashlib.sha256(dedupe_key.encode("utf-8", "replace")).hexdigest()
    return f"key:{dedupe_key}"


STAGE = batch_stage(consume_inbox)
