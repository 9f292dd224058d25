"""Turn what a node answered (or how it failed) into the commit that records it."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.definitions import AnyNode
from conveyor.engine.backoff import retry_delay_seconds
from conveyor.engine.store.executions import Execution, NewExecution, StepCommit, StepRecord
from conveyor.errors import ConveyorError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, Outcome, Sleep, SpawnChild, WaitForChild
from conveyor.statemachines import ExecutionModel, apply_events


@dataclass(frozen=True, slots=True)
class PlannedCommit:
    """A step commit, plus the child it starts, if any."""

    commit: StepCommit
    child: NewExecution | None = None


def error_document(exc: BaseException) -> JSONObject:
    """Describe a failure for the execution's and the step's `error` field."""
    if isinstance(exc, ConveyorError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, TimeoutError):
        return {"code": "step_timeout", "message": "the step ran past its timeout", "details": {}}
    return {"code": "step_exception", "message": f"{type(exc).__name__}: {exc}", "details": {}}


def _base(ex: Execution, owner: str, node: AnyNode) -> JSONObject:
    return {"execution_id": ex.id, "owner": owner, "version": ex.version, "history_node": node.id,
            "history_attempt": ex.attempt, "resume_state": None}


def plan_success(ex: Execution, owner: str, node: AnyNode, outcome: Outcome, step_input: JSONValue,
                 lease_seconds: float) -> PlannedCommit:
    """The commit for a node that answered."""
    model = ExecutionModel(ex.state)
    base = _base(ex, owner, node)
    if isinstance(outcome, SpawnChild | WaitForChild):
        child_id = outcome.child_id
        transitions = apply_events(model, "step_ok", "sleep")
        step = (StepRecord(node.id, ex.visit, ex.attempt, "waiting", step_input, {"child_id": str(child_id)}, None)
                if isinstance(outcome, SpawnChild) else None)
        child = None
        if isinstance(outcome, SpawnChild):
            child = NewExecution(outcome.workflow_id, outcome.workflow_version, outcome.start_node, outcome.input,
                                 dedupe_key=outcome.dedupe_key, parent_id=ex.id, parent_node=node.id,
                                 id=child_id)
        commit = StepCommit(**base, state=model.state, current_node=ex.current_node, visit=ex.visit,
                            attempt=ex.attempt, transitions=transitions, history_detail={"child_id": str(child_id)},
                            step=step)
        return PlannedCommit(commit, child)
    next_node = outcome.branch if isinstance(outcome, Completed) and outcome.branched else node.next
    step = StepRecord(node.id, ex.visit, ex.attempt, "completed", step_input, outcome.output, None)
    patch = {node.id: {"output": outcome.output}}
    moved = {"current_node": next_node, "visit": ex.visit + 1 if next_node else ex.visit, "attempt": 1}
    if isinstance(outcome, Sleep):
        transitions = apply_events(model, "step_ok", "sleep")
        return PlannedCommit(StepCommit(
            **base, **moved, state=model.state, transitions=transitions, step=step, context_patch=patch,
            history_detail={"next": next_node, "wake_in_seconds": outcome.seconds,
                            "until": outcome.until.isoformat() if outcome.until else None},
            wake_after_seconds=outcome.seconds, wake_at=outcome.until,
        ))
    if next_node is None:
        transitions = apply_events(model, "step_ok", "finish")
        return PlannedCommit(StepCommit(
            **base, **moved, state=model.state, transitions=transitions, step=step, context_patch=patch,
            history_detail=None, output=outcome.output, finished=True,
        ))
    transitions = apply_events(model, "step_ok", "advance")
    return PlannedCommit(StepCommit(
        **base, **moved, state=model.state, transitions=transitions, step=step, context_patch=patch,
        history_detail={"next": next_node}, keep_lease_seconds=lease_seconds,
    ))


def plan_failure(ex: Execution, owner: str, node: AnyNode, exc: BaseException, step_input: JSONValue
                 ) -> PlannedCommit:
    """The commit for a node that failed: a retry when the policy has attempts left, else failure."""
    model = ExecutionModel(ex.state)
    error = error_document(exc)
    step = StepRecord(node.id, ex.visit, ex.attempt, "failed", step_input, None, error)
    retryable = getattr(exc, "retryable", True) and ex.attempt < node.retry.max_attempts
    base = _base(ex, owner, node)
    if retryable:
        delay = retry_delay_seconds(node.retry, ex.attempt)
        transitions = apply_events(model, "step_error", "schedule_retry")
        return PlannedCommit(StepCommit(
            **base, state=model.state, current_node=ex.current_node, visit=ex.visit, attempt=ex.attempt + 1,
            transitions=transitions, step=step, history_detail={"error": error, "retry_in_seconds": delay},
            error=error, wake_after_seconds=delay,
        ))
    transitions = apply_events(model, "step_error", "give_up")
    return PlannedCommit(StepCommit(
        **base, state=model.state, current_node=ex.current_node, visit=ex.visit, attempt=ex.attempt,
        transitions=transitions, step=step, history_detail={"error": error}, error=error, finished=True,
    ))


def plan_finish_without_node(ex: Execution, owner: str) -> PlannedCommit:
    """The commit for an execution that woke from a final delay: nothing is left to run."""
    model = ExecutionModel(ex.state)
    transitions = apply_events(model, "step_ok", "finish")
    return PlannedCommit(StepCommit(
        execution_id=ex.id, owner=owner, version=ex.version, state=model.state, resume_state=None,
        current_node=None, visit=ex.visit, attempt=ex.attempt, transitions=transitions, history_node=None,
        history_attempt=ex.attempt, history_detail=None, step=None, output=ex.output, finished=True,
    ))
