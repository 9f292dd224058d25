"""The coalescing stage of the poller: ripe groups of coalesced inbox rows start one execution each.

One transaction per batch, three statements whatever its size (store/coalesce_groups.py). Between the read
and the write, each group's input is built and its caps rendered here. A group whose trigger is gone or
disabled by then, or whose caps cannot be rendered, starts nothing: its rows take that outcome and reason.
A worker that dies mid-batch rolls the whole batch back; the groups stay ripe and the next worker starts
them, each once (the execution's dedupe key is the group's first row).
"""

from __future__ import annotations

import json
import uuid

import structlog

from conveyor import failpoints
from conveyor.concurrency import describe, slots_with
from conveyor.engine.metrics import COALESCED_GROUPS
from conveyor.engine.stage import batch_stage
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject
from conveyor.render_thread import off_loop
from conveyor.statemachines import INITIAL_STATE
from conveyor.store import Pool, transaction
from conveyor.store.coalesce_groups import GroupStart, RipeGroup, lock_ripe, read_groups, start_groups
from conveyor.triggers.coalesce import MAX_PAYLOADS

log = structlog.get_logger(__name__)


async def start_ripe_groups(pool: Pool, cache: TriggerCache, limit: int) -> int:
    """Start up to `limit` ripe groups in one transaction; return how many groups were taken."""
    async with transaction(pool) as conn:
        locked = await lock_ripe(conn, limit)
        if not locked:
            return 0
        groups = await read_groups(conn, locked, MAX_PAYLOADS)
        starts = await off_loop(lambda: [_decide(group, cache) for group in groups])  # keys: off the loop
        started, folded = await start_groups(conn, INITIAL_STATE, starts)
        failpoints.fail(failpoints.Point.IN_COALESCE)
    for start in starts:
        COALESCED_GROUPS.labels(trigger=str(start.trigger_id), outcome=start.outcome).inc()
    log.debug("coalesced_groups_started", groups=len(starts), started=started, rows=folded)
    return len(starts)


def _decide(group: RipeGroup, cache: TriggerCache) -> GroupStart:
    def ended(outcome: str, reason: str) -> GroupStart:
        return GroupStart(group.trigger_id, group.key, group.row_ids, outcome, reason)

    if group.definition is None or group.trigger_version is None:
        return ended("disabled", "the trigger was deleted before its group started")
    if not group.enabled:
        return ended("disabled", "the trigger was disabled before its group started")
    if not group.row_ids:
        return ended("empty", "the group had no rows left")
    try:
        trigger = cache.get(group.trigger_id, group.trigger_version, group.definition)
        input_ = _input(group, trigger.coalesce.payload if trigger.coalesce else "last")
        slots = slots_with(json.loads(group.caps) if group.caps else None, trigger.concurrency, input_)
    except (ValidationError, ValueError, RecursionError) as exc:
        # ended, not raised: a group that can never start must not be retried on every cycle
        return ended("error", f"{type(exc).__name__}: {exc}"[:1000])
    execution_id = uuid.uuid4()
    reason = f"coalesced: {len(group.row_ids)} row(s) with key {group.key!r} started one execution"
    caps = describe(slots)
    return GroupStart(
        group.trigger_id,
        group.key,
        group.row_ids,
        "started",
        f"{reason}; {caps}" if caps else reason,
        execution_id=execution_id,
        execution_key=f"coalesce:{group.row_ids[0]}",
        workflow_id=group.workflow_id,
        workflow_version=group.workflow_version,
        start_node=group.start_node,
        input=input_,
        slots=slots,
    )


def _input(group: RipeGroup, mode: str) -> JSONObject:
    """The execution's input: the first or last payload, or (`all`) the payloads with their count."""
    if mode == "all":
        return {"key": group.key, "count": len(group.row_ids), "payloads": group.head[:MAX_PAYLOADS]}
    chosen = group.first if mode == "first" else group.last
    return chosen if isinstance(chosen, dict) else {}


STAGE = batch_stage(start_ripe_groups)
