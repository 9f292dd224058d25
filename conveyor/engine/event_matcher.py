"""The match stage of the poller: new events end the waits whose `match` accepts them, a batch at a time.

Each batch is one transaction of three statements whatever its size (plus BEGIN and COMMIT): a locking read
of up to `limit` unmatched events that also takes their types' advisory locks; one read of every open wait
those events may end (by the index of their match key, or by event type for rules without one); and one
write that closes the chosen waits with their events, claims their executions for this worker as far as it
has room (they run as soon as the batch commits, their waits' states known without a read) and makes the
rest due now, marks the events matched and NOTIFYs the workers. Between the two, the rules run here, each
wait's oldest accepted event winning; the same event may end any number of waits.

Then `cancel_on`: one read of the live executions whose workflow version cancels on one of the batch's
types; their rules run here; one write cancels the accepted ones (each with a history row naming the event)
and, when any were, one more cancels their descendants: one statement more when no rule accepts, three
when one does, whatever the count.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from conveyor.cancellation import CancelOn
from conveyor.engine.claim_room import ClaimRoom
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.stage import FeedContext
from conveyor.failpoints import Point, fail
from conveyor.nodes.base import execution_data
from conveyor.nodes.wait_for_event import WaitForEventNode
from conveyor.render_thread import off_loop
from conveyor.statemachines import moves
from conveyor.store import Conn, Pool, transaction
from conveyor.store.claims import ClaimFor
from conveyor.store.descendants import cancel_descendants
from conveyor.store.event_cancels import CancelCandidate, cancel_on_events, find_cancel_candidates
from conveyor.store.event_log import Event, lock_unmatched
from conveyor.store.event_waits import Candidate, Delivery, WaitState, deliver, find_candidates
from conveyor.store.executions import Execution
from conveyor.store.wait_reads import WaitReads

log = structlog.get_logger(__name__)

_CANCEL_MOVES = moves("cancel")


@dataclass(frozen=True, slots=True)
class Matched:
    """What one batch did: the events it took, and the executions it woke and claimed for this worker."""

    events: int
    claimed: list[Execution]


class EventMatcher:
    """Delivers recorded events to the waits they match."""

    def __init__(self, pool: Pool, definitions: DefinitionCache, reads: WaitReads) -> None:
        self._pool = pool
        self._definitions = definitions
        self._reads = reads

    @classmethod
    def for_feed(cls, feed: FeedContext) -> _MatchStage:
        """The match stage of a worker's feed, on the worker's definitions, claiming into its free slots."""
        return _MatchStage(cls(feed.pool, feed.definitions, feed.services.wait_reads), feed.room)

    async def match(self, limit: int, claim: ClaimFor) -> Matched:
        """Match up to `limit` new events in one transaction, claiming for `claim` what they wake while it has
        room; return how many events were taken and the executions claimed, to run now."""
        started = time.perf_counter()
        async with transaction(self._pool) as conn:
            events = await lock_unmatched(conn, limit)
            if not events:
                return Matched(0, [])
            candidates = await find_candidates(conn, events)
            deliveries = await self._choose(events, candidates)
            done = await deliver(conn, deliveries, matched_ids=[e.id for e in events], claim=claim)
            cancelled = await self._cancel(conn, events)
        if done.claimed:
            fail(Point.AFTER_CLAIM)  # committed: a crash or a lost answer here leaves them leased to nobody alive
        # An execution claimed here and cancelled by an event of the same batch is not run.
        gone = set(cancelled)
        claimed = [ex for ex in done.claimed if ex.id not in gone]
        payloads = {e.id: e.payload for e in events}
        taken = {(d.execution_id, d.visit): d.event_id for d in deliveries}
        for ex in claimed:
            event_id = taken.get((ex.id, ex.visit))
            if event_id is not None:  # the deadline no longer matters: the wait is closed
                self._reads.know(ex.id, ex.visit, WaitState(True, event_id, payloads[event_id], None, False))
        log.debug(
            "events_matched",
            events=len(events),
            candidates=len(candidates),
            delivered=done.closed,
            woken=done.woken,
            claimed=len(done.claimed),
            cancelled=len(cancelled),
            seconds=time.perf_counter() - started,
        )
        return Matched(len(events), claimed)

    async def _cancel(self, conn: Conn, events: list[Event]) -> list[uuid.UUID]:
        by_id = {e.id: e for e in events}
        groups = []
        for execution_id, group in itertools.groupby(
            await find_cancel_candidates(conn, events), lambda c: c.execution_id
        ):
            pairs = list(group)
            definition = await self._definitions.get(pairs[0].workflow_id, pairs[0].workflow_version)
            groups.append((execution_id, definition.cancel_on, pairs))

        def taken() -> list[tuple[uuid.UUID, int]]:
            return [
                (execution_id, event_id)
                for execution_id, rules, pairs in groups
                if (event_id := _cancelling_event(rules, pairs, by_id)) is not None
            ]

        cancels = await off_loop(taken)  # the rules: off the event loop
        if not cancels:
            return []
        cancelled = await cancel_on_events(conn, cancels, _CANCEL_MOVES)
        await cancel_descendants(conn, cancelled, _CANCEL_MOVES, {"reason": "parent_cancelled"})
        for execution_id in cancelled:
            log.info("execution_cancelled_on_event", execution_id=str(execution_id))
        return cancelled

    async def _choose(self, events: list[Event], candidates: list[Candidate]) -> list[Delivery]:
        by_id = {e.id: e for e in events}
        waits = []
        # candidates come ordered by wait, then event: each wait takes its oldest accepted event
        for (execution_id, visit), group in itertools.groupby(candidates, lambda c: (c.execution_id, c.visit)):
            pairs = list(group)
            first = pairs[0]
            definition = await self._definitions.get(first.workflow_id, first.workflow_version)
            node = definition.node(first.node)
            if isinstance(node, WaitForEventNode):
                data = execution_data(execution_id, first.workflow_id, first.attempt, visit, first.input, first.context)
                waits.append((execution_id, visit, node, data, pairs))

        def chosen() -> list[Delivery]:
            return [
                Delivery(execution_id, visit, taken.event_id)
                for execution_id, visit, node, data, pairs in waits
                if (taken := next((c for c in pairs if node.accepts(by_id[c.event_id].document(), data)), None))
            ]

        return await off_loop(chosen)  # the rules: off the event loop


def _cancelling_event(rules: Sequence[CancelOn], pairs: list[CancelCandidate], by_id: dict[int, Event]) -> int | None:
    """The first event among an execution's candidates that one of its cancel rules accepts."""
    return next(
        (
            c.event_id
            for c in pairs
            for rule in rules
            if rule.event == by_id[c.event_id].type and rule.accepts(by_id[c.event_id].document(), c.input)
        ),
        None,
    )


@dataclass(frozen=True, slots=True)
class _MatchStage:
    matcher: EventMatcher
    room: ClaimRoom

    async def run(self, limit: int) -> bool:
        """Match a batch, run what it claimed; True when it came full."""
        with self.room.lend(limit) as claim:
            matched = await self.matcher.match(limit, claim)
        self.room.start(matched.claimed)
        return matched.events >= limit

    async def close(self) -> None:
        """Nothing runs in the background."""


STAGE = EventMatcher.for_feed
