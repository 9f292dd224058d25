"""The poll stage of the poller: due poll triggers read their source, each in a task of its own.

A worker claims due poll triggers in one statement, pushing their due time a lease ahead so no other worker
polls them meanwhile; each poll then runs as a task, so a slow URL never holds up the claim loop. A poll's rows
and its new cursor are written together in one statement fenced on the claim: a worker that lost its claim (the
trigger was changed, disabled, or taken over after the lease) writes nothing. A failing source puts the trigger
in `error` and is tried again after a backoff that doubles with the time it has been failing, up to an hour;
the status change is logged once, not at every poll.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from conveyor.engine.metrics import LOOP_ERRORS
from conveyor.engine.stage import FeedContext
from conveyor.errors import DatabaseUnavailableError
from conveyor.failpoints import Point, fail
from conveyor.store import transaction
from conveyor.store.due_triggers import ClaimedPoll, PollResult, claim_due_polls, record_poll
from conveyor.triggers.base import PollFailedError
from conveyor.triggers.kinds import POLL_TYPES, kind_of

log = structlog.get_logger(__name__)

# Longer than any poll may take (a URL's answer is bounded at 30 s): a worker that died mid-poll hands the
# trigger on after this.
POLL_LEASE_SECONDS = 60.0
_MAX_BACKOFF = timedelta(hours=1)
# How many poll triggers one worker polls at once.
_MAX_POLLS = 16


class PollStage:
    """The polls this worker runs now."""

    def __init__(self, feed: FeedContext) -> None:
        self._polled = feed.want_feed  # the worker's timer must learn each poll's next due time
        self._pool = feed.pool
        self._cache = feed.triggers
        self._services = feed.services
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, limit: int) -> bool:
        """Claim due poll triggers, as many as there is room for, and start polling each; a poll that ends asks
        for the feed again itself, so the count of polls started says nothing of what waits."""
        room = _MAX_POLLS - len(self._tasks)
        if room <= 0 or not POLL_TYPES:
            return False
        async with transaction(self._pool) as conn:
            claimed = await claim_due_polls(conn, POLL_TYPES, room, POLL_LEASE_SECONDS)
        for due in claimed:
            task = asyncio.create_task(self._poll(due), name=f"poll-{due.id}")
            self._tasks.add(task)
            task.add_done_callback(self._done)
        return False

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._polled()

    async def close(self) -> None:
        """Stop the polls in flight; their claims lapse and another worker polls again."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _poll(self, due: ClaimedPoll) -> None:
        bound = log.bind(trigger_id=str(due.id))
        try:
            trigger = self._cache.get(due.id, due.version, due.definition)
            kind = kind_of(trigger)
            every = trigger.every() or timedelta(0)
            assert kind.poll is not None, "only polling kinds are claimed"
            try:
                polled = await kind.poll(trigger, due.cursor, self._services)
                rows = [(t.dedupe_key, t.payload) for t in polled.ticks]
                result = PollResult(rows, polled.cursor, 0.0 if polled.more else every.total_seconds())
            except PollFailedError as exc:
                failing_for = due.now - due.error_since if due.error_since else timedelta(0)
                backoff = min(max(every, 2 * failing_for), _MAX_BACKOFF)
                result = PollResult([], due.cursor, backoff.total_seconds(), exc.message[:1000])
            async with transaction(self._pool) as conn:
                recorded = await record_poll(conn, due, trigger.type, result)
                fail(Point.IN_POLL)
        except DatabaseUnavailableError as exc:
            bound.warning("database_unavailable", error=exc.message)
            return
        except Exception:  # noqa: BLE001 - the top of a poll task: log and count; the claim lapses and it is retried
            LOOP_ERRORS.labels(loop="poll").inc()
            bound.exception("poll_failed_unexpectedly")
            return
        if not recorded.held:
            bound.info("poll_claim_lost")
        elif recorded.was != recorded.status:
            (bound.warning if result.error else bound.info)(
                "trigger_status_changed", status=recorded.status, error=result.error
            )
        bound.debug("trigger_polled", rows=len(result.rows), written=recorded.written)


STAGE = PollStage
