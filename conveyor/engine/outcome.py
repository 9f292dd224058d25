"""Turn what a node answered (or how it failed) into the commit that records it."""

from __future__ import annotations

import dataclasses
import json
import uuid
from dataclasses import dataclass

from conveyor.definitions import NodeModel
from conveyor.engine.backoff import retry_delay_seconds
from conveyor.errors import ConveyorError, PermanentStepError, RetryAfter, StepTimeoutError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, Defer, Outcome, Sleep, SpawnChild, WaitForChild, WaitForEvent
from conveyor.redaction import Redactor
from conveyor.statemachines import RUNNING, TERMINAL_STATES, ExecutionModel, StepEnd, apply_events, claim_event
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
) -> StepCommit:
    """Move the machine by `end`'s events; unless `moved`, the execution stays at its node and attempt.

    An execution still resting (its worker held it through a short sleep) is first taken, as a claim would."""
    model = ExecutionModel(ex.state)
    taken = () if ex.state == RUNNING else (claim_event(ex.state),)
    transitions = apply_events(model, *taken, *end.value)
    at = moved or _Moved(ex.current_node, ex.visit, ex.attempt)
    completed = step is not None and step.status == StepStatus.COMPLETED
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
        context_patch={step.node: {"output": step.output}} if step is not None and completed else None,
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
    return PlannedCommit(_commit(ex, owner, node, StepEnd.GIVE_UP, step=step, detail={"error": error}, error=error))


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
