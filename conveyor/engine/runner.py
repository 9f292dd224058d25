"""Run a claimed execution's steps for as long as it stays running under this worker's lease."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable

import structlog

from conveyor.definitions import NodeModel, WorkflowDefinition
from conveyor.engine.alerts import start_alert
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.engine.event_waits import park_wait
from conveyor.engine.group_commit import CommitGroup
from conveyor.engine.guards import GuardDefaults, deadline, tripped
from conveyor.engine.metrics import SLEEPS_HELD, step_metrics
from conveyor.engine.outcome import (
    Ending,
    PlannedCommit,
    oversized,
    plan_failure,
    plan_finish_without_node,
    plan_guard,
    plan_success,
    redacted,
)
from conveyor.engine.routing import lacking_action, routed_action
from conveyor.errors import DatabaseUnavailableError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONObject
from conveyor.nodes import kinds
from conveyor.nodes.base import StepContext, execution_data
from conveyor.secret_references import MisplacedSecretError, SecretUse
from conveyor.services import Services
from conveyor.statemachines import DELAYED, RUNNING, TERMINAL_STATES, moves
from conveyor.store import Conn, Pool, connection
from conveyor.store.children import group_child_ended, lock_and_count, spawn_group
from conveyor.store.descendants import cancel_descendants
from conveyor.store.executions import Execution, insert_execution
from conveyor.store.steps import (
    CommitRefusedError,
    Committed,
    UnstorableResultError,
    Wake,
    child_has_ended,
    commit_step,
    refusals,
    wake_parent,
)

log = structlog.get_logger(__name__)

_MAX_REMEMBERED_NODES = 10_000
_CANCEL_MOVES = moves("cancel")


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


# Refusals of one step's commit after which it fails, whatever their kinds (the same kind twice fails it sooner).
_MAX_REFUSALS = 3


@dataclasses.dataclass(frozen=True, slots=True)
class StepLimits:
    """What bounds a step: its timeout when its node sets none, the most any node's may be, the largest result
    (its input, output and error as JSON) stored."""

    timeout_seconds: float
    max_timeout_seconds: float
    max_result_bytes: int

    def timeout(self, node: NodeModel) -> float:
        """The node's timeout in seconds, or the default; never past the maximum."""
        own = node.timeout.total_seconds() if node.timeout else self.timeout_seconds
        return min(own, self.max_timeout_seconds)


@dataclasses.dataclass(frozen=True, slots=True)
class RunResult:
    """Where a run left the execution."""

    wake_in_seconds: float | None
    pause_requested: bool
    lease_lost: bool = False
    handed_back: bool = False
    # The team's action the next step runs, which this worker does not provide: hand it to one that does.
    route_to: str | None = None


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
        limits: StepLimits,
        guards: GuardDefaults,
    ) -> None:
        self._limits = limits
        self._guards = guards
        self._stopping = stopping
        self._holds = holds
        self._leases = leases
        self._lease_seconds = lease_seconds
        self._pool = pool
        self._services = services
        self._definitions = definitions
        self._owner = owner
        self._group = CommitGroup(pool)
        self._secret_uses: dict[tuple[uuid.UUID, int, str], tuple[SecretUse, ...]] = {}

    async def run(self, ex: Execution) -> RunResult:
        """Run steps until the execution waits, ends, or the lease is lost."""
        if ex.pause_requested:
            # Asked to pause while a step ran, and that worker died before pausing it: pause before any step.
            return RunResult(None, True)
        definition = await self._definitions.get(ex.workflow_id, ex.workflow_version)
        until = deadline(ex, definition, self._guards, self._lease_seconds)
        while True:
            bound = log.bind(
                execution_id=str(ex.id), workflow=definition.name, node=ex.current_node, attempt=ex.attempt
            )
            node = None if ex.current_node is None else definition.node(ex.current_node)
            trip = tripped(ex, definition, self._guards, until)
            if trip is not None:
                bound.warning("guard_tripped", guard=trip.guard, limit=trip.limit)
                planned = plan_guard(ex, self._owner, node, trip)
            else:
                lacking = lacking_action(node)
                if lacking is not None:
                    return RunResult(None, False, route_to=lacking)
                planned = await self._plan(ex, definition, node, bound, held=until is None)
            committed, planned = await self._commit_or_fail(ex, node, planned, bound, Ending(ex, definition, until))
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

    async def _plan(
        self,
        ex: Execution,
        definition: WorkflowDefinition,
        node: NodeModel | None,
        bound: structlog.stdlib.BoundLogger,
        *,
        held: bool,
    ) -> PlannedCommit:
        """Run the current node (or finish, past the last) and shape its commit: renewed after a held sleep, held
        when a short sleep (unless not `held`: a timed execution's sleep is a row, due by its deadline), and
        naming the action the next node runs, which routes it to that action's workers."""
        if node is None:
            planned = plan_finish_without_node(ex, self._owner)
        else:
            planned = await self._run_node(ex, node, bound)
            fail(Point.AFTER_SIDE_EFFECT)
        if ex.state != RUNNING:
            # Woken from a held sleep: the row's wake_at was the sleep's; a step that goes on renews the lease.
            planned = _renewing(planned, self._lease_seconds)
        elif held and not self._stopping.is_set():
            planned = self._holds.admit(planned)
        action = routed_action(definition, planned.commit.current_node)
        if action is None:
            return planned
        return dataclasses.replace(planned, commit=dataclasses.replace(planned.commit, action=action))

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
            sendable=node.sendable_fields(),
            namespace=ex.namespace,
        )
        timeout = self._limits.timeout(node)
        metrics = step_metrics(node.type)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                names = self._secret_names(ex, node)
                if names:
                    ctx.secrets.update(await self._services.vault.values(names, ex.namespace))
                outcome = await kinds.execute(node, ctx)
        except (asyncio.CancelledError, DatabaseUnavailableError):
            # Our own database failed the step (its email or webhook log), not the work: that spends none of
            # the step's attempts; the worker hands the execution back and it runs again under the same key.
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of user-facing work fails the step
            metrics.failed.inc()
            bound.warning("step_failed", error=ctx.redactor.text(str(exc)), error_type=type(exc).__name__)
            return self._capped(ex, node, ctx, plan_failure(ex, self._owner, node, exc, ctx.rendered or None))
        finally:
            metrics.seconds.observe(time.perf_counter() - started)
        planned = self._capped(ex, node, ctx, plan_success(ex, self._owner, node, outcome, ctx.rendered or None))
        (metrics.failed if planned.commit.error is not None else metrics.completed).inc()
        return planned

    def _capped(self, ex: Execution, node: NodeModel, ctx: StepContext, planned: PlannedCommit) -> PlannedCommit:
        """The commit redacted; the step's failure instead if its result is larger than may be stored."""
        planned = redacted(planned, ctx.redactor)
        too_large = oversized(planned, self._limits.max_result_bytes)
        if too_large is None:
            return planned
        ctx.log.warning("step_result_too_large", error=too_large.message)
        step_input = None if too_large.details["field"] == "input" else ctx.rendered or None
        return redacted(plan_failure(ex, self._owner, node, too_large, step_input), ctx.redactor)

    def _secret_names(self, ex: Execution, node: NodeModel) -> frozenset[str]:
        """The secrets a node's templates name, found once per definition version; a use a definition saved
        before the rules of conveyor/sendable.py makes could not be sent safely, so it fails the step."""
        key = (ex.workflow_id, ex.workflow_version, node.id)
        uses = self._secret_uses.get(key)
        if uses is None:
            if len(self._secret_uses) > _MAX_REMEMBERED_NODES:
                self._secret_uses.clear()
            uses = self._secret_uses[key] = tuple(node.secret_uses())
        refused = next((use for use in uses if use.problem is not None), None)
        if refused is not None:
            raise MisplacedSecretError(f"at {refused.pointer}: {refused.problem}", field=refused.pointer)
        return frozenset(use.name for use in uses if use.name is not None)

    async def _commit_or_fail(
        self,
        ex: Execution,
        node: NodeModel | None,
        planned: PlannedCommit,
        bound: structlog.stdlib.BoundLogger,
        ending: Ending,
    ) -> tuple[Committed | None, PlannedCommit]:
        """Commit the step, and what was committed; a commit the database refuses the same way twice (or one it
        can never store) fails the step instead: running it again would repeat its side effect for a commit
        that cannot land. A commit lost on the way (the database gone) is not refused: it raises, as before."""
        refused: list[str] = []
        failed_instead = False
        while True:
            try:
                planned = ending.shaped(planned)
                return await self._commit(planned, ex), planned
            except CommitRefusedError as exc:
                bound.warning("step_commit_refused", sqlstate=exc.sqlstate, error=exc.message)
                if node is None or failed_instead:
                    raise  # even the step's failure, stripped of its result, is refused: nothing more to try
                determined = isinstance(exc, UnstorableResultError) or exc.sqlstate in refused
                refused.append(exc.sqlstate)
                if determined or len(refused) >= _MAX_REFUSALS:
                    planned, failed_instead = plan_failure(ex, self._owner, node, exc, None), True

    async def _commit(self, planned: PlannedCommit, ex: Execution) -> Committed | None:
        commit = planned.commit
        ends_child = ex.parent_id is not None and commit.state in TERMINAL_STATES
        alone = planned.child is not None or planned.waits_for is not None or planned.wait is not None
        alone = alone or planned.group is not None or planned.waits_for_group is not None
        if not alone and not ends_child and planned.alert is None and not planned.cancels_descendants:
            return await self._group.commit(commit)
        # A commit that writes more than the execution's own rows takes a transaction of its own.
        with refusals():
            async with connection(self._pool) as conn:
                async with conn.transaction():
                    committed = await self._commit_alone(conn, planned, ex if ends_child else None)
                    fail(Point.IN_COMMIT)
                fail(Point.AFTER_COMMIT)  # committed; were the answer lost, the worker could not know
        return committed

    async def _commit_alone(
        self, conn: Conn, planned: PlannedCommit, ended_child: Execution | None
    ) -> Committed | None:
        commit = planned.commit
        if planned.wait is not None:
            return await park_wait(conn, commit, planned.wait)
        if planned.waits_for is not None and await child_has_ended(conn, planned.waits_for):
            commit = dataclasses.replace(commit, wake=Wake(after_seconds=0.0))  # it ended as we looked away
        if planned.waits_for_group is not None:
            group, ended = planned.waits_for_group
            if await lock_and_count(conn, commit.lease.execution_id, commit.node or "", group) != ended:
                commit = dataclasses.replace(commit, wake=Wake(after_seconds=0.0))  # one ended as we looked away
        committed = await commit_step(conn, commit)
        if committed is None:
            return None
        if planned.child is not None:
            await insert_execution(conn, planned.child)
        if planned.group is not None:
            await spawn_group(conn, commit.lease.execution_id, commit.node or "", planned.group)
        if planned.cancels_descendants:
            await cancel_descendants(conn, [commit.lease.execution_id], _CANCEL_MOVES, commit.history_detail or {})
        if planned.alert is not None:
            await start_alert(conn, planned.alert)
        if ended_child is not None and ended_child.parent_id is not None:
            if ended_child.item_index is not None:
                await group_child_ended(conn, ended_child, commit.state)
            else:
                await wake_parent(conn, ended_child.parent_id, ended_child.id)
        return committed


def _renewing(planned: PlannedCommit, lease_seconds: float) -> PlannedCommit:
    wake = planned.commit.wake
    return _with_wake(planned, dataclasses.replace(wake, renew_seconds=lease_seconds)) if wake.keep_lease else planned


def _with_wake(planned: PlannedCommit, wake: Wake) -> PlannedCommit:
    """The same commit with another wake."""
    return dataclasses.replace(planned, commit=dataclasses.replace(planned.commit, wake=wake))


def _data(ex: Execution) -> JSONObject:
    return execution_data(ex.id, ex.workflow_id, ex.attempt, ex.visit, ex.input, ex.context)
