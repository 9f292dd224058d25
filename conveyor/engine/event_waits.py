"""Parking a wait for an event: the step's commit, the wait's row and a look back, in one transaction.

The look back runs under a shared lock on the wait's event types, taken before anything else in the
transaction: a matcher holding one of those types has committed before the look back reads, so its events are
seen; a matcher that comes later reads the waits after this transaction commits, so it sees this one.
"""

from __future__ import annotations

import dataclasses

import structlog

from conveyor.nodes.base import WaitForEvent
from conveyor.render_thread import off_loop
from conveyor.store import Conn
from conveyor.store.event_log import lock_types_shared
from conveyor.store.event_waits import Delivery, ParkedWait, deliver, park
from conveyor.store.steps import Committed, StepCommit, commit_step

log = structlog.get_logger(__name__)


async def park_wait(conn: Conn, commit: StepCommit, wait: WaitForEvent) -> Committed | None:
    """Commit the step that parks `wait`, store the wait and take an event recorded before it, if one
    matches; in the caller's transaction. None when the worker no longer holds the lease."""
    await lock_types_shared(conn, sorted(set(wait.events)))
    committed = await commit_step(conn, commit)
    if committed is None:
        return None
    execution_id = commit.lease.execution_id
    parked = ParkedWait(
        execution_id=execution_id,
        visit=commit.visit,
        node=commit.node or "",
        event_types=list(wait.events),
        lookback_seconds=wait.lookback_seconds,
        match_path=wait.key[0] if wait.key else None,
        match_value=wait.key[1] if wait.key else None,
    )
    closed, recorded = await park(conn, parked)
    if closed:
        # woken early and parked again, but an event closed the wait meanwhile: take it now
        await deliver(conn, [], wake_ids=[execution_id])
        return dataclasses.replace(committed, wake_in_seconds=0.0)
    taken = await off_loop(lambda: next((e for e in recorded if wait.accepts(e.document())), None))
    if taken is None:
        return committed
    await deliver(conn, [Delivery(execution_id, commit.visit, taken.id)])
    log.info("event_taken_on_parking", execution_id=str(execution_id), node=commit.node, event_id=taken.id)
    return dataclasses.replace(committed, wake_in_seconds=0.0)
