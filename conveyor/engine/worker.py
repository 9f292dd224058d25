"""The worker: feeds the inbox from due schedules, turns inbox rows into executions, claims due executions
and runs up to CONVEYOR_CONCURRENCY of them at once."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid

import structlog

from conveyor.config import Settings
from conveyor.engine.alarm import Alarm
from conveyor.engine.claim import claim_due
from conveyor.engine.claim_room import ClaimRoom
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.feed import Feed
from conveyor.engine.guards import GuardDefaults
from conveyor.engine.lease import LeaseKeeper
from conveyor.engine.metrics import CLAIMED, DATABASE_UNAVAILABLE, IN_FLIGHT, LOOP_ERRORS
from conveyor.engine.operator_move import pause_after_step
from conveyor.engine.recovery import recover, silence_limit_seconds
from conveyor.engine.retention import RetentionStage
from conveyor.engine.routing import provided_actions
from conveyor.engine.runner import Holds, StepLimits, StepRunner, held_sleep_seconds
from conveyor.engine.stage import FeedContext
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.errors import DatabaseUnavailableError
from conveyor.services import Services
from conveyor.store import Pool, connection
from conveyor.store.channels import CONTROL_CHANNEL, control_target
from conveyor.store.claims import release_leases, seconds_until_next_due
from conveyor.store.due_triggers import seconds_until_next_run
from conveyor.store.executions import Execution
from conveyor.store.routing import park_unprovided, route_elsewhere
from conveyor.store.workers import register_worker, stop_worker

log = structlog.get_logger(__name__)

# Sleep a hair past the due time: the database's now() must have passed wake_at when we claim.
_DUE_SLACK_SECONDS = 0.002
_BUSY_RECHECK_SECONDS = 0.01
# How soon an execution whose run broke on an unexpected error is offered to the workers again.
_RETRY_AFTER_ERROR_SECONDS = 5.0
# How soon one whose run lost the database (in a step's own writes, or at its commit) is offered again.
_RETRY_AFTER_DATABASE_SECONDS = 1.0
# How often a worker whose database is away tries it again: a delay that fell due meanwhile must fire within
# a second of the database's return, and a failed connect costs next to nothing.
_DATABASE_RETRY_SECONDS = 0.25
# Held sleeps a worker keeps at most, per slot of its concurrency.
_HOLDS_PER_SLOT = 10


class Worker:
    """One process's share of the work: a claim loop, a lease keeper and the running executions."""

    def __init__(
        self,
        pool: Pool,
        dsn: str,
        settings: Settings,
        services: Services,
        worker_id: str | None = None,
    ) -> None:
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = pool
        self._settings = settings
        self._alarm = Alarm(dsn, {CONTROL_CHANNEL: self._on_control})
        self._leases = LeaseKeeper(pool, self.id, settings.lease_seconds)
        self._stopping = asyncio.Event()
        definitions = DefinitionCache(pool)
        self._holds = Holds(
            held_sleep_seconds(settings.lease_seconds),
            _HOLDS_PER_SLOT * settings.concurrency,
            room=lambda: self._free_slots() > 0,
            ring=self._alarm.ring,
        )
        limits = StepLimits(
            settings.step_timeout.total_seconds(), settings.max_step_timeout.total_seconds(), settings.max_result_bytes
        )
        self._runner = StepRunner(
            pool,
            services,
            definitions,
            self.id,
            self._stopping,
            self._holds,
            self._leases.held,
            settings.lease_seconds,
            limits,
            GuardDefaults(settings.max_steps, settings.max_visits, settings.execution_timeout),
        )
        self._tasks: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._retention = RetentionStage(pool, settings.retention, settings.retention_batch_size)
        # The actions this worker runs: it claims no step of another of the team's actions.
        self._provides = provided_actions()
        self._room = ClaimRoom(
            self.id,
            settings.lease_seconds,
            self._provides,
            free=lambda: min(self._free_slots(), settings.batch_size),
            start=self._start,
        )
        self._feed = Feed(FeedContext(pool, TriggerCache(), definitions, services, self._want_feed, self._room))
        # The feed (schedules, polls, inbox, coalescing, events) runs when something may be waiting for it: a
        # NOTIFY (inbox rows and events send one), a poll that ended, a full batch last time, or a due time of
        # its own; not when only this process's executions ended and freed room to claim.
        self._feed_wanted = True
        self._feed_at = 0.0
        # Executions cancelled while running here, with the loop time their control message came.
        self._aborting: dict[uuid.UUID, float] = {}
        self._park_at = 0.0

    def wake(self) -> None:
        """Look for due work now, the feed's included (this process made some)."""
        self._want_feed()

    def stop(self) -> None:
        """Stop claiming; `run` then drains and returns."""
        self._stopping.set()
        self._alarm.ring()

    async def run(self) -> None:
        """Claim and run executions until stopped, then finish or hand back what is in flight."""
        async with connection(self._pool) as conn:
            await register_worker(conn, self.id, socket.gethostname(), os.getpid())
        # What dead workers held comes back now, not when each lease runs out.
        await recover(self._pool, silence_limit_seconds(self._settings.lease_seconds))
        await self._alarm.ensure_listening()
        keeper = asyncio.create_task(self._leases.run(), name="lease-keeper")
        log.info("worker_started", worker_id=self.id, concurrency=self._settings.concurrency)
        try:
            while not self._stopping.is_set():
                try:
                    await self._cycle()
                except DatabaseUnavailableError as exc:
                    DATABASE_UNAVAILABLE.labels(loop="worker").inc()
                    log.warning("database_unavailable", error=exc.message)
                    await self._alarm.wait(_DATABASE_RETRY_SECONDS)
                except Exception:
                    LOOP_ERRORS.labels(loop="worker").inc()
                    log.exception("worker_cycle_failed")
                    await self._alarm.wait(1.0)
        finally:
            await self._feed.close()
            await self._drain()
            keeper.cancel()
            await self._alarm.close()
            async with connection(self._pool) as conn:
                await stop_worker(conn, self.id)
            log.info("worker_stopped", worker_id=self.id)

    async def _cycle(self) -> None:
        # Claim before feeding: what fell due is late already; what the feed starts NOTIFYs the next cycle.
        free = self._free_slots()
        full_claim = False
        if free > 0:
            wanted = min(free, self._settings.batch_size)
            claimed = await claim_due(
                self._pool, self.id, wanted, self._settings.lease_seconds, list(self._tasks), self._provides
            )
            for ex in claimed:
                self._start(ex)
            full_claim = len(claimed) == wanted
        await self._retention.run_due()
        await self._park_unprovided()
        loop = asyncio.get_running_loop()
        if self._alarm.take_notified() or self._feed_wanted or loop.time() >= self._feed_at:
            self._feed_wanted = True  # and so it stays if the database fails the feed: it runs again
            self._feed_wanted = await self._feed.run(self._settings.inbox_batch_size)
            async with connection(self._pool) as conn:
                run_in = await seconds_until_next_run(conn)
            wait = self._settings.poll_interval_seconds
            if run_in is not None:
                # Already due yet not fired: another worker is firing it right now; look again shortly.
                wait = min(wait, max(run_in, _BUSY_RECHECK_SECONDS))
            self._feed_at = loop.time() + wait
        if self._feed_wanted or full_claim:
            return  # there may be more due right now
        # Sleep until the next due time (an execution's, or the feed's), a NOTIFY, or a ring.
        timeout = min(self._settings.poll_interval_seconds, self._feed_at - loop.time() + _DUE_SLACK_SECONDS)
        if self._free_slots() > 0:
            async with connection(self._pool) as conn:
                due_in = await seconds_until_next_due(conn, list(self._tasks), self._provides)
            if due_in is not None:
                # Already due yet not claimed: another worker is taking it right now; look again shortly.
                timeout = min(timeout, max(due_in, _BUSY_RECHECK_SECONDS) + _DUE_SLACK_SECONDS)
        await self._alarm.wait(timeout)

    def _free_slots(self) -> int:
        # A held sleep runs nothing, so it takes no slot; slots set aside for a match batch's claims are taken.
        return self._settings.concurrency - (len(self._tasks) - len(self._holds.held)) - self._room.set_aside

    def _want_feed(self) -> None:
        self._feed_wanted = True
        self._alarm.ring()

    def _on_control(self, payload: str) -> None:
        # The execution was cancelled (or, held in a sleep, paused) and that committed: its row moved and its
        # version changed, so nothing this worker would still commit for it can land. Stop it now.
        execution_id = control_target(payload)
        task = self._tasks.get(execution_id) if execution_id else None
        if execution_id is None or task is None or task.done():
            return
        self._aborting[execution_id] = asyncio.get_running_loop().time()
        task.cancel()

    def _start(self, ex: Execution) -> None:
        CLAIMED.inc()
        self._leases.held.add(ex.id)
        task = asyncio.create_task(self._run_one(ex), name=f"execution-{ex.id}")
        self._tasks[ex.id] = task
        IN_FLIGHT.set(len(self._tasks))

    async def _run_one(self, ex: Execution) -> None:
        try:
            result = await self._runner.run(ex)
            if result.pause_requested and not result.lease_lost:
                await pause_after_step(self._pool, ex.id)
            if result.handed_back:
                async with connection(self._pool) as conn:
                    await release_leases(conn, self.id, [ex.id])
            if result.route_to is not None:
                await self._route(ex, result.route_to)
            if result.wake_in_seconds is not None:
                self._alarm.ring()  # a delay or retry may now be the nearest due time
        except asyncio.CancelledError:
            told_at = self._aborting.get(ex.id)
            if told_at is None:
                raise
            took = asyncio.get_running_loop().time() - told_at
            log.info("step_cancelled", execution_id=str(ex.id), reason="taken_by_operator", seconds=took)
        except DatabaseUnavailableError as exc:
            # Not the step's failure: no attempt is spent; whether the last commit landed, the fenced claim
            # that runs it again will see.
            DATABASE_UNAVAILABLE.labels(loop="execution").inc()
            log.warning("execution_run_interrupted", execution_id=str(ex.id), error=exc.message)
            await self._hand_back_after_error(ex, _RETRY_AFTER_DATABASE_SECONDS)
        except Exception:
            LOOP_ERRORS.labels(loop="execution").inc()
            log.exception("execution_run_failed", execution_id=str(ex.id))
            await self._hand_back_after_error(ex, _RETRY_AFTER_ERROR_SECONDS)
        finally:
            self._aborting.pop(ex.id, None)
            if self._tasks.get(ex.id) is asyncio.current_task():
                self._leases.held.discard(ex.id)
                del self._tasks[ex.id]
                self._holds.freed.set()
            IN_FLIGHT.set(len(self._tasks))
            self._alarm.ring()

    async def _route(self, ex: Execution, action: str) -> None:
        """Hand the execution to the workers of an action this one does not provide; parked if none is alive."""
        async with connection(self._pool) as conn:
            parked = await route_elsewhere(conn, self.id, ex.id, action, self._live_seconds)
        log.info("execution_routed", execution_id=str(ex.id), action=action, waiting_for_worker=parked)

    async def _park_unprovided(self) -> None:
        """Once a poll interval: park due executions whose action no live worker provides any more."""
        now = asyncio.get_running_loop().time()
        if now < self._park_at:
            return
        self._park_at = now + self._settings.poll_interval_seconds
        async with connection(self._pool) as conn:
            parked = await park_unprovided(conn, self._live_seconds)
        if parked:
            log.warning("executions_waiting_for_worker", parked=parked)

    @property
    def _live_seconds(self) -> float:
        return silence_limit_seconds(self._settings.lease_seconds)

    async def _hand_back_after_error(self, ex: Execution, after_seconds: float) -> None:
        # The step's outcome may not be recorded (the database failed us): let it run again soon,
        # not after the whole lease; the step's idempotency key keeps its side effects single.
        try:
            async with connection(self._pool) as conn:
                await release_leases(conn, self.id, [ex.id], after_seconds=after_seconds)
        except DatabaseUnavailableError as exc:
            # Still away: the lease lapses by itself and the first worker to reach the database takes it.
            log.warning("lease_release_failed", execution_id=str(ex.id), error=exc.message)
        except Exception:
            log.exception("lease_release_failed", execution_id=str(ex.id))

    async def _drain(self) -> None:
        if not self._tasks:
            return
        log.info("worker_draining", in_flight=len(self._tasks), grace_seconds=self._settings.shutdown_grace_seconds)
        _, pending = await asyncio.wait(list(self._tasks.values()), timeout=self._settings.shutdown_grace_seconds)
        # A held sleep's row keeps its own due time (and when others may take it); releasing would move it.
        held = [ex_id for ex_id, task in self._tasks.items() if task in pending and ex_id not in self._holds.held]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if held:
            async with connection(self._pool) as conn:
                released = await release_leases(conn, self.id, held)
            log.info("leases_released", count=released)
