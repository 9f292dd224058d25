"""The match stage of the poller: new events end the waits whose `match` accepts them, a batch at a time.

Each batch is one transaction of three statements whatever its size (plus BEGIN and COMMIT): a locking read
of up to `limit` unmatched events that also takes their types' advisory locks; one read of every open wait
those events may end (by the index of their match key, or by event type for rules without one); and one
write that closes the chosen waits with their events, makes their executions due now, marks the events
matched and NOTIFYs the workers. Between the two, the rules run here, each wait's oldest accepted event
winning; the same event may end any number of waits.
"""

from __future__ import annotations

import itertools
import time

import structlog

from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.nodes.base import execution_data
from conveyor.nodes.wait_for_event import WaitForEventNode
from conveyor.store import Pool, transaction
from conveyor.store.event_log import Event, lock_unmatched
from conveyor.store.event_waits import Candidate, Delivery, deliver, find_candidates

log = structlog.get_logger(__name__)


class EventMatcher:
    """Delivers recorded events to the waits they match."""

    def __init__(self, pool: Pool, definitions: DefinitionCache) -> None:
        self._pool = pool
        self._definitions = definitions

    async def match(self, limit: int) -> int:
        """Match up to `limit` new events in one transaction; return how many were taken."""
        started = time.perf_counter()
        async with transaction(self._pool) as conn:
            events = await lock_unmatched(conn, limit)
            if not events:
                return 0
            candidates = await find_candidates(conn, events)
            deliveries = await self._choose(events, candidates)
            done = await deliver(conn, deliveries, matched_ids=[e.id for e in events])
        log.debug(
            "events_matched",
            events=len(events),
            candidates=len(candidates),
            delivered=done.closed,
            woken=done.woken,
            seconds=time.perf_counter() - started,
        )
        return len(events)

    async def _choose(self, events: list[Event], candidates: list[Candidate]) -> list[Delivery]:
        by_id = {e.id: e for e in events}
        chosen: list[Delivery] = []
        # candidates come ordered by wait, then event: each wait takes its oldest accepted event
        for (execution_id, visit), group in itertools.groupby(candidates, lambda c: (c.execution_id, c.visit)):
            pairs = list(group)
            first = pairs[0]
            definition = await self._definitions.get(first.workflow_id, first.workflow_version)
            node = definition.node(first.node)
            if not isinstance(node, WaitForEventNode):
                continue
            data = execution_data(execution_id, first.workflow_id, first.attempt, visit, first.input, first.context)
            taken = next((c for c in pairs if node.accepts(by_id[c.event_id].document(), data)), None)
            if taken is not None:
                chosen.append(Delivery(execution_id, visit, taken.event_id))
        return chosen
