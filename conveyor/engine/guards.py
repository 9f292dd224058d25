"""Guards against a runaway execution: at most `max_steps` steps, `max_visits` visits to one node, and a deadline
`timeout` from its start. A guard is checked before each step from what the runner already holds (the step count
is the execution's visit, a node's visits are in its context), so it costs no statement; one that trips ends the
execution with a history row naming it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from conveyor.definitions import WorkflowDefinition
from conveyor.errors import ConveyorError, PermanentStepError
from conveyor.store.executions import Execution

TIMEOUT_GUARD = "timeout"


class MaxStepsError(PermanentStepError):
    """The execution took as many steps as its workflow's `max_steps` (or CONVEYOR_MAX_STEPS) allows."""

    code = "max_steps_exceeded"


class MaxVisitsError(PermanentStepError):
    """The node was visited as often as the workflow's `max_visits` (or CONVEYOR_MAX_VISITS) allows."""

    code = "max_visits_exceeded"


class ExecutionTimeoutError(PermanentStepError):
    """The execution ran past its workflow's `timeout` (or CONVEYOR_EXECUTION_TIMEOUT), measured from its start."""

    code = "execution_timeout"


@dataclass(frozen=True, slots=True)
class GuardDefaults:
    """The guards of a workflow that sets none (CONVEYOR_MAX_STEPS, CONVEYOR_MAX_VISITS, CONVEYOR_EXECUTION_TIMEOUT)."""

    max_steps: int = 1000
    max_visits: int = 100
    timeout: timedelta | None = None


@dataclass(frozen=True, slots=True)
class GuardTrip:
    """A guard that stops the execution: its name, its limit and the error the execution ends with."""

    guard: str
    limit: float
    error: ConveyorError


@dataclass(frozen=True, slots=True)
class Deadline:
    """When an execution's timeout passes, by the database's clock, and how far off that was when last read."""

    at: datetime
    seconds_left: float
    read_at: float  # time.monotonic() at the read: the worker's clock measures only the time since

    def left(self) -> float:
        """Seconds left now."""
        return self.seconds_left - (time.monotonic() - self.read_at)


def deadline(
    ex: Execution, definition: WorkflowDefinition, defaults: GuardDefaults, lease_seconds: float
) -> Deadline | None:
    """The deadline of a just-claimed execution, if its workflow has a timeout. The claim set the lease's end from
    the database's `now()`, which tells how much of the timeout is left without trusting this worker's clock."""
    timeout = definition.timeout or defaults.timeout
    if timeout is None or ex.started_at is None or ex.wake_at is None:
        return None
    at = ex.started_at + timeout
    claimed_at = ex.wake_at - timedelta(seconds=lease_seconds)
    return Deadline(at, (at - claimed_at).total_seconds(), time.monotonic())


def visits(ex: Execution, node_id: str) -> int:
    """How many visits to the node have ended so far in this execution (`steps.<node>.visits`)."""
    entry = ex.context.get(node_id)
    count = entry.get("visits") if isinstance(entry, dict) else None
    return count if isinstance(count, int) and not isinstance(count, bool) else 0


def tripped(
    ex: Execution, definition: WorkflowDefinition, defaults: GuardDefaults, until: Deadline | None
) -> GuardTrip | None:
    """The guard that stops the execution before its next step, if one does."""
    if until is not None and until.left() <= 0:
        timeout = (definition.timeout or defaults.timeout or timedelta(0)).total_seconds()
        message = f"the execution ran past its timeout of {timeout:g} s"
        return GuardTrip(TIMEOUT_GUARD, timeout, ExecutionTimeoutError(message, guard=TIMEOUT_GUARD, limit=timeout))
    max_steps = definition.max_steps or defaults.max_steps
    if ex.current_node is not None and ex.visit > max_steps:
        message = f"the execution took {max_steps} steps, as many as max_steps allows"
        return GuardTrip("max_steps", max_steps, MaxStepsError(message, guard="max_steps", limit=max_steps))
    max_visits = definition.max_visits or defaults.max_visits
    if ex.current_node is not None and visits(ex, ex.current_node) >= max_visits:
        node = ex.current_node
        message = f"node {node!r} was visited {max_visits} times, as often as max_visits allows"
        error = MaxVisitsError(message, guard="max_visits", limit=max_visits, node=node)
        return GuardTrip("max_visits", max_visits, error)
    return None
