"""Run a claimed execution's steps for as long as it stays running under this worker's lease."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable

import structlog

from conveyor.definitions import NodeModel
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.event_waits import park_wait
from conveyor.engine.group_commit import CommitGroup
from conveyor.engine.metrics import SLEEPS_HELD, step_metrics
from conveyor.engine.outcome import PlannedCommit, plan_failure, plan_finish_without_node, plan_success, redacted
from conveyor.errors import DatabaseUnavailableError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONObject
from conveyor.nodes import kinds
from conveyor.nodes.base import StepContext, execution_data
from conveyor.nodes.services import Services
from conveyor.statemachines import DELAYED, RUNNING, TERMINAL_STATES
from conveyor.store import Conn, Pool, connection
from conveyor.store.executions import Execution, insert_execution
from conveyor.store.steps import Committed, UnstorableResultError, Wake, child_has_ended, commit_step, wake_parent

log = structlog.get_logger(__name__)

_MAX_REMEMBERED_NODES = 10_000


# The longest delay a worker holds in memory, and so how late past its due time a dead holder's one runs.
_MAX_HELD_SLEEP_SECONDS = 1.0


def held_sleep_seconds(lease_seconds: float) -> float:
    """The longest sleep held: a second, or half the lease when that is shorter."""
    return min(_MAX_HELD_SLEEP_SECONDS, lease_seconds / 2)


@dataclasses.dataclass(slots=True)
class Holds:
    """Short sleeps a worker keeps under its lease and wakes in memory, so no claim wakes them.

    A duration sleep of at most `seconds` is held while fewer than `capacity` are. Its row stays `delayed`,
    leased, with `wake_at` at its due time plus `seconds`: should its worker die, any worker takes it then. A
    held execution takes no slot of CONVEYOR_CONCURRENCY (it runs nothing) and its lease is not renewed (the
    row says when it lapses). Woken while every slot is taken, it waits for one; should none come soon, it is
    handed back and claimed as any due execution is. An operator's pause or cancel reaches the holder on the
    control channel.
    """

    seconds: float
    capacity: int
    # Whether the worker has a free slot (held executions take none).
    room: Callable[[], bool]
    # Tells the worker's claim loop a slot came free.
    ring: Callable[[], None]
    held: set[uuid.UUID] = dataclasses.field(default_factory=set)
    # Set whenever a slot may have come free; woken executions waiting for one look again.
    freed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def slot_freed(self) -> None:
        """A slot may be free: woken executions waiting for one look again, and so does the claim loop."""
        self.freed.set()
        self.ring()

    async def take_slot(self) -> bool:
        """Wait for a free slot (still taking none meanwhile); False when none came in half the hold's
        length, before another worker may take the execution (at its due time plus `seconds`)."""
        try:
            async with asyncio.timeout(self.seconds / 2):
                while not self.room():
                    self.freed.clear()
                    await self.freed.wait()
        except TimeoutError:
            return False
        return True

    def admit(self, planned: PlannedCommit) -> PlannedCommit:
        """The same commit, held if it is a short plain sleep and there is room."""
        commit = planned.commit
        plain = planned.child is None and planned.waits_for is None and planned.wait is None
        after = commit.wake.after_seconds
        if not plain or commit.state != DELAYED or commit.wake.at is not None or after is None:
            return planned
        if after > self.seconds or len(self.held) >= self.capacity:
            return planned
        return _with_wake(planned, dataclasses.replace(commit.wake, hold_seconds=self.seconds))


@dataclasses.dataclass(frozen=True, slots=True)
class RunResult:
    """Where a run left the execution."""

    wake_in_seconds: float | None
    pause_requested: bool
    lease_lost: bool = False
    handed_back: bool = False


class StepRunner:
    """Executes nodes and commits their outcomes, fenced on the lease."""

    def __init__(
        self,
        pool: Pool,
        services: Services,
        definitions: DefinitionCache,
        owner: str,
        stopping: asyncio.Event,
        holds: Holds,
        leases: set[uuid.UUID],
        lease_seconds: float,
    ) -> None:
        self._stopping = stopping
        self._holds = holds
        self._leases = leases
        self._lease_seconds = lease_seconds
        self._pool = pool
        self._services = services
        self._definitions = definitions
        self._owner = owner
        self._group = CommitGroup(pool)
        self._secret_uses: dict[tuple[uuid.UUID, int, str], frozenset[str]] = {}

    async def run(self, ex: Execution) -> RunResult:
        """Run steps until the execution waits, ends, or the lease is lost."""
        if ex.pause_requested:
            # Asked to pause while a step ran, and that worker died before pausing it: pause before any step.
            return RunResult(None, True)
        while True:
            definition = await self._definitions.get(ex.workflow_id, ex.workflow_version)
            bound = log.bind(
                execution_id=str(ex.id), workflow=definition.name, node=ex.current_node, attempt=ex.attempt
            )
            if ex.current_node is None:
                planned = plan_finish_without_node(ex, self._owner)
            else:
                planned = await self._run_node(ex, definition.node(ex.current_node), bound)
                fail(Point.AFTER_SIDE_EFFECT)
            if ex.state != RUNNING:
                # Woken from a held sleep: the row's wake_at was the sleep's; a step that goes on renews the lease.
                planned = _renewing(planned, self._lease_seconds)
            elif not self._stopping.is_set():
                planned = self._holds.admit(planned)
            try:
                committed = await self._commit(planned, ex.parent_id)
            except UnstorableResultError as exc:
                bound.warning("step_result_unstorable", error=exc.message)
                planned = plan_failure(ex, self._owner, definition.node(ex.current_node or ""), exc, None)
                committed = await self._commit(planned, ex.parent_id)
            if committed is None:
                bound.warning("lease_lost")
                return RunResult(None, False, lease_lost=True)
            commit = planned.commit
            # debug: its history row records every step; rendering an info line a step took 15 % of the worker's CPU
            bound.debug("step_committed", state=commit.state, next_node=commit.current_node)
            held = commit.wake.hold_seconds is not None and not committed.pause_requested
            if held:
                seconds = (committed.wake_in_seconds or 0.0) - (commit.wake.hold_seconds or 0.0)
                if not await self._hold(ex.id, seconds):
                    return RunResult(None, False, handed_back=True)  # due now: claimed when a slot frees
            elif commit.state != RUNNING or committed.pause_requested:
                return RunResult(committed.wake_in_seconds, committed.pause_requested)
            if self._stopping.is_set():
                # Shutting down: start no new side effect; the worker hands the execution back.
                return RunResult(None, False, handed_back=True)
            context = {**ex.context, **(commit.context_patch or {})}
            ex = dataclasses.replace(
                ex,
                state=commit.state,
                current_node=commit.current_node,
                visit=commit.visit,
                attempt=commit.attempt,
                context=context,
                version=committed.version,
            )

    async def _hold(self, execution_id: uuid.UUID, seconds: float) -> bool:
        """Sleep out a held delay, then take a slot; False when no slot came (the execution is handed back).
        Meanwhile the execution takes no slot and its lease is left to the row."""
        self._leases.discard(execution_id)
        self._holds.held.add(execution_id)
        self._holds.slot_freed()  # it runs nothing while held
        SLEEPS_HELD.inc()
        try:
            await asyncio.sleep(max(0.0, seconds))
            took = await self._holds.take_slot()
        finally:
            self._holds.held.discard(execution_id)
            SLEEPS_HELD.dec()
        self._leases.add(execution_id)
        return took

    async def _run_node(self, ex: Execution, node: NodeModel, bound: structlog.stdlib.BoundLogger) -> PlannedCommit:
        ctx = StepContext(
            execution_id=ex.id,
            workflow_id=ex.workflow_id,
            workflow_version=ex.workflow_version,
            node_id=ex.current_node or "",
            visit=ex.visit,
            attempt=ex.attempt,
            generation=ex.generation,
            data=_data(ex),
            services=self._services,
            log=bound,
        )
        timeout = node.timeout.total_seconds() if node.timeout else None
        metrics = step_metrics(node.type)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                names = self._secret_names(ex, node)
                if names:
                    ctx.secrets.update(await self._services.vault.values(names))
                outcome = await kinds.execute(node, ctx)
        except (asyncio.CancelledError, DatabaseUnavailableError):
            # Our own database failed the step (its email or webhook log), not the work: that spends none of
            # the step's attempts; the worker hands the execution back and it runs again under the same key.
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user-facing work fails the step
            metrics.failed.inc()
            bound.warning("step_failed", error=ctx.redactor.text(str(exc)), error_type=type(exc).__name__)
            return redacted(plan_failure(ex, self._owner, node, exc, ctx.rendered or None), ctx.redactor)
        finally:
            metrics.seconds.observe(time.perf_counter() - started)
        metrics.completed.inc()
        planned = plan_success(ex, self._owner, node, outcome, ctx.rendered or None)
        return redacted(planned, ctx.redactor)

    def _secret_names(self, ex: Execution, node: NodeModel) -> frozenset[str]:
        """The secrets a node's templates name, found once per definition version."""
        key = (ex.workflow_id, ex.workflow_version, node.id)
        names = self._secret_uses.get(key)
        if names is None:
            if len(self._secret_uses) > _MAX_REMEMBERED_NODES:
                self._secret_uses.clear()
            names = self._secret_uses[key] = frozenset(ref.name for ref in node.secret_references())
        return names

    async def _commit(self, planned: PlannedCommit, parent_id: uuid.UUID | None) -> Committed | None:
        commit = planned.commit
        parent_to_wake = parent_id if commit.state in TERMINAL_STATES else None
        if planned.child is None and planned.waits_for is None and planned.wait is None and parent_to_wake is None:
            return await self._group.commit(commit)
        # A commit that writes more than the execution's own rows takes a transaction of its own.
        async with connection(self._pool) as conn:
            async with conn.transaction():
                committed = await self._commit_alone(conn, planned, parent_to_wake)
                fail(Point.IN_COMMIT)
            fail(Point.AFTER_COMMIT)  # committed; were the answer lost, the worker could not know
        return committed

    async def _commit_alone(
        self, conn: Conn, planned: PlannedCommit, parent_to_wake: uuid.UUID | None
    ) -> Committed | None:
        commit = planned.commit
        if planned.wait is not None:
            return await park_wait(conn, commit, planned.wait)
        if planned.waits_for is not None and await child_has_ended(conn, planned.waits_for):
            commit = dataclasses.replace(commit, wake=Wake(after_seconds=0.0))  # it ended as we looked away
        committed = await commit_step(conn, commit)
        if committed is None:
            return None
        if planned.child is not None:
            await insert_execution(conn, planned.child)
        if parent_to_wake is not None:
            await wake_parent(conn, parent_to_wake, commit.lease.execution_id)
        return committed


def _renewing(planned: PlannedCommit, lease_seconds: float) -> PlannedCommit:
    wake = planned.commit.wake
    return _with_wake(planned, dataclasses.replace(wake, renew_seconds=lease_seconds)) if wake.keep_lease else planned


def _with_wake(planned: PlannedCommit, wake: Wake) -> PlannedCommit:
    """The same commit with another wake."""
    return dataclasses.replace(planned, commit=dataclasses.replace(planned.commit, wake=wake))


def _data(ex: Execution) -> JSONObject:
    return execution_data(ex.id, ex.workflow_id, ex.attempt, ex.visit, ex.input, ex.context)
