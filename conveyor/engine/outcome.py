"""Turn what a node answered (or how it failed) into the commit that records it."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass

from conveyor.definitions import NodeModel, WorkflowDefinition
from conveyor.engine.alerts import FailureAlert, failure_alert
from conveyor.engine.backoff import retry_delay_seconds
from conveyor.engine.guards import TIMEOUT_GUARD, Deadline, GuardTrip, visits
from conveyor.errors import ConveyorError, PermanentStepError, RetryAfter, StepTimeoutError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import (
    Completed,
    Defer,
    Outcome,
    Sleep,
    SpawnChild,
    SpawnGroup,
    WaitForChild,
    WaitForEvent,
    WaitForGroup,
)
from conveyor.redaction import Redactor
from conveyor.statemachines import RUNNING, TERMINAL_STATES, ExecutionModel, StepEnd, apply_events, claim_event
from conveyor.store.children import ChildGroup
from conveyor.store.executions import Execution, NewExecution
from conveyor.store.history import Step, StepStatus
from conveyor.store.steps import Lease, StepCommit, Wake


@dataclass(frozen=True, slots=True)
class PlannedCommit:
    """A step commit, plus the child it starts or waits for, if any."""

    commit: StepCommit
    child: NewExecution | None = None
    waits_for: uuid.UUID | None = None
    wait: WaitForEvent | None = None
    # A group of children it starts; the group it waits on, with how many of its children had ended.
    group: ChildGroup | None = None
    waits_for_group: tuple[str, int] | None = None
    # A guard cancelled the execution: its descendants are cancelled in the same transaction.
    cancels_descendants: bool = False
    # The execution failed and its workflow has an alert path: started in the same transaction, once.
    alert: FailureAlert | None = None


class ResultTooLargeError(PermanentStepError):
    """The step's result is larger than CONVEYOR_MAX_RESULT allows to store."""

    code = "result_too_large"


def oversized(planned: PlannedCommit, max_bytes: int) -> ResultTooLargeError | None:
    """Why the step's result may not be stored, if a part of it (its input, its output, a child's input) is
    larger than `max_bytes` as JSON; None when it fits."""
    step, child = planned.commit.step, planned.child
    parts = {
        "input": step.input if step else None,
        "output": step.output if step else None,
        "error": step.error if step else None,
        "child_input": child.input if child else None,
    }
    for name, value in parts.items():
        size = _json_size(value)
        if size > max_bytes:
            return ResultTooLargeError(
                f"the step's {name.replace('_', ' ')} is {size} bytes as JSON, more than CONVEYOR_MAX_RESULT"
                f" ({max_bytes} bytes) allows to store",
                field=name,
                size_bytes=size,
                setting="CONVEYOR_MAX_RESULT",
                limit_bytes=max_bytes,
            )
    return None


def _json_size(value: JSONValue) -> int:
    if value is None:
        return 0
    try:
        return len(json.dumps(value, ensure_ascii=False).encode())
    except (TypeError, ValueError, RecursionError):
        return 0  # not JSON at all: the commit refuses it as unstorable


def error_document(exc: BaseException) -> JSONObject:
    """Describe a failure for the execution's and the step's `error` field."""
    if isinstance(exc, ConveyorError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, TimeoutError):
        return error_document(StepTimeoutError())
    return {"code": "step_exception", "message": f"{type(exc).__name__}: {exc}", "details": {}}


_NO_WAKE = Wake()


@dataclass(frozen=True, slots=True)
class _Moved:
    """Where a step leaves the execution's position."""

    current_node: str | None
    visit: int
    attempt: int


def _commit(
    ex: Execution,
    owner: str,
    node: NodeModel | None,
    end: StepEnd,
    *,
    moved: _Moved | None = None,
    step: Step | None = None,
    detail: JSONObject | None = None,
    wake: Wake = _NO_WAKE,
    output: JSONValue = None,
    error: JSONValue = None,
    entry: JSONObject | None = None,
) -> StepCommit:
    """Move the machine by `end`'s events; unless `moved`, the execution stays at its node and attempt.

    A step that ends its visit (it completed, or took its error path) leaves `steps.<node>`: its `output` (or
    `entry`) and how many `visits` the node has had, which the `max_visits` guard reads.

    An execution still resting (its worker held it through a short sleep) is first taken, as a claim would."""
    model = ExecutionModel(ex.state)
    taken = () if ex.state == RUNNING else (claim_event(ex.state),)
    transitions = apply_events(model, *taken, *end.value)
    at = moved or _Moved(ex.current_node, ex.visit, ex.attempt)
    if entry is None and step is not None and step.status == StepStatus.COMPLETED:
        entry = {"output": step.output}
    patch = None if entry is None or step is None else {step.node: {**entry, "visits": visits(ex, step.node) + 1}}
    return StepCommit(
        lease=Lease(ex.id, owner, ex.version),
        state=model.state,
        current_node=at.current_node,
        visit=at.visit,
        attempt=at.attempt,
        transitions=transitions,
        node=node.id if node else None,
        history_detail=detail,
        step=step,
        context_patch=patch,
        output=output,
        error=error,
        wake=wake,
        finished=model.state in TERMINAL_STATES,
    )


def plan_success(ex: Execution, owner: str, node: NodeModel, outcome: Outcome, step_input: JSONValue) -> PlannedCommit:
    """The commit for a node that answered."""
    if isinstance(outcome, WaitForChild):
        detail: JSONObject = {"child_id": str(outcome.child_id)}
        return PlannedCommit(_commit(ex, owner, node, StepEnd.SLEEP, detail=detail), waits_for=outcome.child_id)
    if isinstance(outcome, Defer):
        # Neither a retry nor a failure: the execution stays at its node and attempt, and sleeps as a row.
        detail = {**outcome.reason, "until": outcome.at.isoformat()}
        return PlannedCommit(_commit(ex, owner, node, StepEnd.SLEEP, detail=detail, wake=Wake(at=outcome.at)))
    if isinstance(outcome, WaitForEvent):
        until = outcome.until.isoformat() if outcome.until else None
        detail = {"events": list(outcome.events), "timeout_in_seconds": outcome.seconds, "until": until}
        step = Step(node.id, ex.visit, ex.attempt, StepStatus.WAITING, step_input, detail, None)
        wake = Wake(at=outcome.until, after_seconds=outcome.seconds)
        commit = _commit(ex, owner, node, StepEnd.SLEEP, detail=detail, step=step, wake=wake)
        return PlannedCommit(commit, wait=outcome)
    if isinstance(outcome, SpawnGroup):
        group = outcome.children
        detail = {"group": group.group, "children": len(group.inputs)}
        step = Step(node.id, ex.visit, ex.attempt, StepStatus.WAITING, step_input, detail, None)
        return PlannedCommit(_commit(ex, owner, node, StepEnd.SLEEP, detail=detail, step=step), group=group)
    if isinstance(outcome, WaitForGroup):
        detail = {"group": outcome.group, "ended": outcome.ended}
        commit = _commit(ex, owner, node, StepEnd.SLEEP, detail=detail)
        return PlannedCommit(commit, waits_for_group=(outcome.group, outcome.ended))
    if isinstance(outcome, SpawnChild):
        detail = {"child_id": str(outcome.child_id)}
        step = Step(node.id, ex.visit, ex.attempt, StepStatus.WAITING, step_input, detail, None)
        child = NewExecution(
            outcome.workflow_id,
            outcome.workflow_version,
            outcome.start_node,
            outcome.input,
            dedupe_key=outcome.dedupe_key,
            parent_id=ex.id,
            parent_node=node.id,
            id=outcome.child_id,
            slots=outcome.slots,
            namespace=ex.namespace,
        )
        return PlannedCommit(_commit(ex, owner, node, StepEnd.SLEEP, detail=detail, step=step), child)
    next_node = outcome.branch if isinstance(outcome, Completed) and outcome.branched else node.next
    if next_node is not None and next_node == ex.stop_node:
        next_node = None  # a parallel branch ends where it would go on to its join: the parent runs the join
    step = Step(node.id, ex.visit, ex.attempt, StepStatus.COMPLETED, step_input, outcome.output, None)
    moved = _Moved(next_node, ex.visit + 1 if next_node else ex.visit, 1)
    if isinstance(outcome, Sleep):
        until = outcome.until.isoformat() if outcome.until else None
        detail = {"next": next_node, "wake_in_seconds": outcome.seconds, "until": until}
        wake = Wake(at=outcome.until, after_seconds=outcome.seconds)
        return PlannedCommit(_commit(ex, owner, node, StepEnd.SLEEP, moved=moved, step=step, detail=detail, wake=wake))
    if next_node is None:
        return PlannedCommit(_commit(ex, owner, node, StepEnd.FINISH, moved=moved, step=step, output=outcome.output))
    keep = Wake(keep_lease=True)
    detail = {"next": next_node}
    return PlannedCommit(_commit(ex, owner, node, StepEnd.ADVANCE, moved=moved, step=step, detail=detail, wake=keep))


def plan_failure(
    ex: Execution, owner: str, node: NodeModel, exc: BaseException, step_input: JSONValue
) -> PlannedCommit:
    """The commit for a node that failed: a retry when the policy has attempts left, else failure."""
    error = error_document(exc)
    step = Step(node.id, ex.visit, ex.attempt, StepStatus.FAILED, step_input, None, error)
    if getattr(exc, "retryable", True) and ex.attempt < node.retry.max_attempts:
        delay = exc.seconds if isinstance(exc, RetryAfter) else retry_delay_seconds(node.retry, ex.attempt)
        moved = _Moved(ex.current_node, ex.visit, ex.attempt + 1)
        detail = {"error": error, "retry_in_seconds": delay}
        wake = Wake(after_seconds=delay)
        commit = _commit(ex, owner, node, StepEnd.RETRY, moved=moved, step=step, detail=detail, wake=wake, error=error)
        return PlannedCommit(commit)
    if node.on_error is not None:
        # Retries spent: on by the error path, the failure kept for templates and rules as `steps.<node>.error`.
        # A parallel branch whose error path is its join ends there, as it would by going on to it.
        onward = None if node.on_error == ex.stop_node else node.on_error
        moved = _Moved(onward, ex.visit + 1, 1)
        entry: JSONObject = {"error": {"type": error["code"], "message": error["message"], "attempts": ex.attempt}}
        detail = {"error": error, "next": node.on_error}
        commit = _commit(
            ex,
            owner,
            node,
            StepEnd.DIVERT,
            moved=moved,
            step=step,
            detail=detail,
            wake=Wake(keep_lease=True),
            entry=entry,
        )
        return PlannedCommit(commit)
    return PlannedCommit(_commit(ex, owner, node, StepEnd.GIVE_UP, step=step, detail={"error": error}, error=error))


def plan_guard(ex: Execution, owner: str, node: NodeModel | None, trip: GuardTrip) -> PlannedCommit:
    """The commit for an execution a guard stops before its next step: failed past `max_steps` or `max_visits`,
    cancelled past its `timeout` (its descendants with it); the history row names the guard."""
    error = error_document(trip.error)
    detail: JSONObject = {"guard": trip.guard, "limit": trip.limit, "error": error}
    if trip.guard == TIMEOUT_GUARD:
        detail["reason"] = "timeout"
        commit = _commit(ex, owner, node, StepEnd.TIME_OUT, detail=detail, error=error)
        return PlannedCommit(commit, cancels_descendants=True)
    return PlannedCommit(_commit(ex, owner, node, StepEnd.GIVE_UP, detail=detail, error=error))


def plan_finish_without_node(ex: Execution, owner: str) -> PlannedCommit:
    """The commit for an execution that woke from a final delay: nothing is left to run."""
    return PlannedCommit(_commit(ex, owner, None, StepEnd.FINISH, output=ex.output))


def redacted(planned: PlannedCommit, redactor: Redactor) -> PlannedCommit:
    """The same commit with the step's secret values replaced by markers in all it writes: the step's
    input, output and error, the execution's output, error and context, the history detail, a child's input."""
    if not redactor:
        return planned
    commit, step, child = planned.commit, planned.commit.step, planned.child
    if step is not None:
        step = dataclasses.replace(
            step, input=redactor.value(step.input), output=redactor.value(step.output), error=redactor.value(step.error)
        )
    commit = dataclasses.replace(
        commit,
        step=step,
        history_detail=redactor.value(commit.history_detail),
        context_patch=redactor.value(commit.context_patch),
        output=redactor.value(commit.output),
        error=redactor.value(commit.error),
    )
    if child is not None:
        child = dataclasses.replace(child, input=redactor.value(child.input))
    return dataclasses.replace(planned, commit=commit, child=child)


@dataclass(frozen=True, slots=True)
class Ending:
    """What a commit adds from the execution as a whole: its deadline, and the alert its failure starts."""

    ex: Execution
    definition: WorkflowDefinition
    until: Deadline | None

    def shaped(self, planned: PlannedCommit) -> PlannedCommit:
        """The commit due by the deadline at the latest, and starting the alert if it fails the execution."""
        commit = planned.commit
        if self.until is not None and not commit.finished:
            planned = dataclasses.replace(planned, commit=dataclasses.replace(commit, deadline=self.until.at))
        alert = failure_alert(self.ex, self.definition, commit)
        return planned if alert is None else dataclasses.replace(planned, alert=alert)
