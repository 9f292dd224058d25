"""Turn what a node answered (or how it failed) into the commit that records it."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from conveyor.definitions import AnyNode
from conveyor.engine.backoff import retry_delay_seconds
from conveyor.engine.store.executions import Execution, NewExecution, StepCommit, StepRecord
from conveyor.errors import ConveyorError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, Outcome, Sleep, SpawnChild, WaitForChild
from conveyor.statemachines import ExecutionModel, Transition, apply_events


@dataclass(frozen=True, slots=True)
class PlannedCommit:
    """A step commit, plus the child it starts, if any."""

    commit: StepCommit
    child: NewExecution | None = None
    waits_for: uuid.UUID | None = None


def error_document(exc: BaseException) -> JSONObject:
    """Describe a failure for the execution's and the step's `error` field."""
    if isinstance(exc, ConveyorError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    if isinstance(exc, TimeoutError):
        return {"code": "step_timeout", "message": "the step ran past its timeout", "details": {}}
    return {"code": "step_exception", "message": f"{type(exc).__name__}: {exc}", "details": {}}


def _commit(
    ex: Execution,
    owner: str,
    node: AnyNode | None,
    model: ExecutionModel,
    transitions: list[Transition],
    **changes: Any,
) -> StepCommit:
    """A commit that keeps the execution where it is, with `changes` on top."""
    commit = StepCommit(
        execution_id=ex.id,
        owner=owner,
        version=ex.version,
        state=model.state,
        resume_state=None,
        current_node=ex.current_node,
        visit=ex.visit,
        attempt=ex.attempt,
        transitions=transitions,
        history_node=node.id if node else None,
        history_attempt=ex.attempt,
        history_detail=None,
        step=None,
    )
    return dataclasses.replace(commit, **changes)


def plan_success(
    ex: Execution, owner: str, node: AnyNode, outcome: Outcome, step_input: JSONValue, lease_seconds: float
) -> PlannedCommit:
    """The commit for a node that answered."""
    model = ExecutionModel(ex.state)
    if isinstance(outcome, SpawnChild | WaitForChild):
        transitions = apply_events(model, "step_ok", "sleep")
        detail: JSONObject = {"child_id": str(outcome.child_id)}
        if isinstance(outcome, WaitForChild):
            commit = _commit(ex, owner, node, model, transitions, history_detail=detail)
            return PlannedCommit(commit, waits_for=outcome.child_id)
        step = StepRecord(node.id, ex.visit, ex.attempt, "waiting", step_input, detail, None)
        child = NewExecution(
            outcome.workflow_id,
            outcome.workflow_version,
            outcome.start_node,
            outcome.input,
            dedupe_key=outcome.dedupe_key,
            parent_id=ex.id,
            parent_node=node.id,
            id=outcome.child_id,
        )
        return PlannedCommit(_commit(ex, owner, node, model, transitions, history_detail=detail, step=step), child)
    next_node = outcome.branch if isinstance(outcome, Completed) and outcome.branched else node.next
    done = {
        "step": StepRecord(node.id, ex.visit, ex.attempt, "completed", step_input, outcome.output, None),
        "context_patch": {node.id: {"output": outcome.output}},
        "current_node": next_node,
        "visit": ex.visit + 1 if next_node else ex.visit,
        "attempt": 1,
    }
    if isinstance(outcome, Sleep):
        transitions = apply_events(model, "step_ok", "sleep")
        detail = {
            "next": next_node,
            "wake_in_seconds": outcome.seconds,
            "until": outcome.until.isoformat() if outcome.until else None,
        }
        return PlannedCommit(
            _commit(
                ex,
                owner,
                node,
                model,
                transitions,
                **done,
                history_detail=detail,
                wake_after_seconds=outcome.seconds,
                wake_at=outcome.until,
            )
        )
    if next_node is None:
        transitions = apply_events(model, "step_ok", "finish")
        return PlannedCommit(_commit(ex, owner, node, model, transitions, **done, output=outcome.output, finished=True))
    transitions = apply_events(model, "step_ok", "advance")
    return PlannedCommit(
        _commit(
            ex,
            owner,
            node,
            model,
            transitions,
            **done,
            history_detail={"next": next_node},
            keep_lease_seconds=lease_seconds,
        )
    )


def plan_failure(ex: Execution, owner: str, node: AnyNode, exc: BaseException, step_input: JSONValue) -> PlannedCommit:
    """The commit for a node that failed: a retry when the policy has attempts left, else failure."""
    model = ExecutionModel(ex.state)
    error = error_document(exc)
    step = StepRecord(node.id, ex.visit, ex.attempt, "failed", step_input, None, error)
    if getattr(exc, "retryable", True) and ex.attempt < node.retry.max_attempts:
        delay = retry_delay_seconds(node.retry, ex.attempt)
        transitions = apply_events(model, "step_error", "schedule_retry")
        return PlannedCommit(
            _commit(
                ex,
                owner,
                node,
                model,
                transitions,
                attempt=ex.attempt + 1,
                step=step,
                history_detail={"error": error, "retry_in_seconds": delay},
                error=error,
                wake_after_seconds=delay,
            )
        )
    transitions = apply_events(model, "step_error", "give_up")
    return PlannedCommit(
        _commit(
            ex, owner, node, model, transitions, step=step, history_detail={"error": error}, error=error, finished=True
        )
    )


def plan_finish_without_node(ex: Execution, owner: str) -> PlannedCommit:
    """The commit for an execution that woke from a final delay: nothing is left to run."""
    model = ExecutionModel(ex.state)
    transitions = apply_events(model, "step_ok", "finish")
    return PlannedCommit(_commit(ex, owner, None, model, transitions, output=ex.output, finished=True))
