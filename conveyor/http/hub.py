"""The event hub: one LISTEN connection per web process, fanning history rows out to every live subscriber."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from conveyor.errors import ConveyorError, DatabaseUnavailableError
from conveyor.http.keys import POOL
from conveyor.store import Pool, connection
from conveyor.store.channels import HISTORY_CHANNEL, history_ids, listening
from conveyor.store.feed import HistoryEvent, history_events

log = structlog.get_logger(__name__)

# pg_stat_activity's name for the hub's connection.
LISTENER_NAME = "conveyor-events"
# Events a subscriber may fall behind by before it is dropped: a slow reader never holds up the others.
QUEUE_SIZE = 1000


class SubscriptionEndedError(ConveyorError):
    """The live feed ended before its subscriber left."""

    code = "subscription_ended"


class SubscriberTooSlowError(SubscriptionEndedError):
    """The subscriber fell too far behind the live feed and was dropped; reconnect with Last-Event-ID."""

    code = "subscriber_too_slow"


class FeedLostError(SubscriptionEndedError):
    """The live feed lost its database connection; reconnect with Last-Event-ID."""

    code = "feed_lost"


class ShuttingDownError(SubscriptionEndedError):
    """The server is shutting down; reconnect with Last-Event-ID."""

    code = "shutting_down"


# Which feeds an event goes to: its execution's, its workflow's, and the feed of everything (None, None).
_Key = tuple[uuid.UUID | None, uuid.UUID | None]


class Subscription:
    """One subscriber's feed: the hub puts events in, the subscriber takes them out."""

    def __init__(self, size: int) -> None:
        self._queue: asyncio.Queue[HistoryEvent | None] = asyncio.Queue(maxsize=size)
        self._ended: SubscriptionEndedError | None = None

    def offer(self, event: HistoryEvent) -> None:
        """Queue an event, or end the subscription if its queue is full."""
        if self._ended is not None:
            return
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.end(SubscriberTooSlowError())

    def end(self, reason: SubscriptionEndedError) -> None:
        """Stop the feed; the subscriber's next take raises `reason`."""
        if self._ended is None:
            self._ended = reason
            with contextlib.suppress(asyncio.QueueFull):  # a full queue wakes its reader anyway
                self._queue.put_nowait(None)

    async def next(self, timeout_seconds: float) -> HistoryEvent | None:
        """The next event, or None when none came within the timeout; raises once the feed has ended."""
        if self._ended is not None:
            raise self._ended
        try:
            event = self._queue.get_nowait()
        except asyncio.QueueEmpty:
            try:
                event = await asyncio.wait_for(self._queue.get(), timeout_seconds)
            except TimeoutError:
                return None
        if event is None or self._ended is not None:
            raise self._ended or SubscriptionEndedError()  # None is only queued by end()
        return event


class EventHub:
    """Holds the process's one LISTEN connection while anyone subscribes, and feeds the subscribers."""

    def __init__(self, pool: Pool, queue_size: int = QUEUE_SIZE) -> None:
        self._pool = pool
        self._queue_size = queue_size
        self._subscriptions: dict[_Key, set[Subscription]] = {}
        self._pending: list[int] = []
        self._notified = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()

    @property
    def subscribers(self) -> int:
        """How many subscribers are connected."""
        return sum(len(group) for group in self._subscriptions.values())

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, execution_id: uuid.UUID | None = None, workflow_id: uuid.UUID | None = None
    ) -> AsyncIterator[Subscription]:
        """A feed of the history rows committed from now on: one execution's, one workflow's, or all."""
        subscription = Subscription(self._queue_size)
        key = (execution_id, workflow_id)
        self._subscriptions.setdefault(key, set()).add(subscription)
        try:
            await self._listen()
            yield subscription
        finally:
            group = self._subscriptions[key]
            group.discard(subscription)
            if not group:
                del self._subscriptions[key]
            await self._release_if_unwatched()

    async def close(self) -> None:
        """End every feed and let the connection go."""
        self._end_all(ShuttingDownError())
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)

    async def _listen(self) -> None:
        async with self._starting:
            if self._listener is not None and not self._listener.done():
                return
            ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._listener = asyncio.create_task(self._hold(ready), name="event-hub")
            await ready

    async def _release_if_unwatched(self) -> None:
        # While the hub listens, every step commit sends a NOTIFY, and those commits queue on one lock:
        # listen only while someone watches.
        async with self._starting:
            if self._subscriptions or self._listener is None:
                return
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
            log.info("event_hub_released")

    async def _hold(self, ready: asyncio.Future[None]) -> None:
        try:
            async with listening(self._pool, HISTORY_CHANNEL, LISTENER_NAME, self._on_notify) as lost:
                ready.set_result(None)
                log.info("event_hub_listening")
                pump = asyncio.create_task(self._pump(), name="event-hub-pump")
                try:
                    await lost.wait()
                finally:
                    pump.cancel()
                log.warning("event_hub_connection_lost")
        except DatabaseUnavailableError as exc:
            if not ready.done():
                ready.set_exception(exc)
                return
            log.warning("event_hub_connection_lost", error=exc.message)
        # Whatever came while nobody listened is unknown: subscribers reconnect, resuming by Last-Event-ID.
        self._end_all(FeedLostError())

    def _on_notify(self, payload: str) -> None:
        self._pending.extend(history_ids(payload))
        self._notified.set()

    async def _pump(self) -> None:
        while True:
            await self._notified.wait()
            self._notified.clear()
            ids, self._pending = self._pending, []
            if not self._subscriptions or not ids:
                continue
            try:
                async with connection(self._pool) as conn:
                    events = await history_events(conn, ids)
            except DatabaseUnavailableError as exc:
                log.warning("event_hub_read_failed", error=exc.message)
                self._end_all(FeedLostError())
                continue
            for event in events:
                self._deliver(event)

    def _deliver(self, event: HistoryEvent) -> None:
        for key in ((event.execution_id, None), (None, event.workflow_id), (None, None)):
            for subscription in self._subscriptions.get(key, ()):
                subscription.offer(event)

    def _end_all(self, reason: SubscriptionEndedError) -> None:
        for group in self._subscriptions.values():
            for subscription in group:
                subscription.end(reason)


EVENT_HUB = web.AppKey("event_hub", EventHub)


async def event_hub(app: web.Application) -> AsyncIterator[None]:
    """The app's hub, for its lifetime (a cleanup context)."""
    hub = EventHub(app[POOL])
    app[EVENT_HUB] = hub
    yield
    await hub.close()


async def end_feeds(app: web.Application) -> None:
    """End every live feed, so a shutting-down server does not wait on open streams (an on_shutdown hook)."""
    await app[EVENT_HUB].close()
