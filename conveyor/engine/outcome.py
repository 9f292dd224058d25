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
from conveyor.statemachines import ExecutionModel, apply_events


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


def _commit(ex: Execution, owner: str, node: AnyNode | None, events: tuple[str, ...], **changes: Any) -> StepCommit:
    """Move the machine by `events`; the commit keeps the execution where it is, with `changes` on top."""
    model = ExecutionModel(ex.state)
    transitions = apply_events(model, *events)
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
    if isinstance(outcome, WaitForChild):
        detail: JSONObject = {"child_id": str(outcome.child_id)}
        return PlannedCommit(_commit(ex, owner, node, _SLEEP, history_detail=detail), waits_for=outcome.child_id)
    if isinstance(outcome, SpawnChild):
        detail = {"child_id": str(outcome.child_id)}
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
        return PlannedCommit(_commit(ex, owner, node, _SLEEP, history_detail=detail, step=step), child)
    next_node = outcome.branch if isinstance(outcome, Completed) and outcome.branched else node.next
    done: dict[str, Any] = {
        "step": StepRecord(node.id, ex.visit, ex.attempt, "completed", step_input, outcome.output, None),
        "context_patch": {node.id: {"output": outcome.output}},
        "current_node": next_node,
        "visit": ex.visit + 1 if next_node else ex.visit,
        "attempt": 1,
    }
    if isinstance(outcome, Sleep):
        until = outcome.until.isoformat() if outcome.until else None
        detail = {"next": next_node, "wake_in_seconds": outcome.seconds, "until": until}
        return PlannedCommit(
            _commit(
                ex,
                owner,
                node,
                _SLEEP,
                **done,
                history_detail=detail,
                wake_after_seconds=outcome.seconds,
                wake_at=outcome.until,
            )
        )
    if next_node is None:
        return PlannedCommit(_commit(ex, owner, node, _FINISH, **done, output=outcome.output, finished=True))
    return PlannedCommit(
        _commit(ex, owner, node, _ADVANCE, **done, history_detail={"next": next_node}, keep_lease_seconds=lease_seconds)
    )


def plan_failure(ex: Execution, owner: str, node: AnyNode, exc: BaseException, step_input: JSONValue) -> PlannedCommit:
    """The commit for a node that failed: a retry when the policy has attempts left, else failure."""
    error = error_document(exc)
    failed = {"step": StepRecord(node.id, ex.visit, ex.attempt, "failed", step_input, None, error), "error": error}
    if getattr(exc, "retryable", True) and ex.attempt < node.retry.max_attempts:
        delay = retry_delay_seconds(node.retry, ex.attempt)
        detail = {"error": error, "retry_in_seconds": delay}
        return PlannedCommit(
            _commit(
                ex,
                owner,
                node,
                _RETRY,
                **failed,
                attempt=ex.attempt + 1,
                history_detail=detail,
                wake_after_seconds=delay,
            )
        )
    return PlannedCommit(_commit(ex, owner, node, _GIVE_UP, **failed, history_detail={"error": error}, finished=True))


def plan_finish_without_node(ex: Execution, owner: str) -> PlannedCommit:
    """The commit for an execution that woke from a final delay: nothing is left to run."""
    return PlannedCommit(_commit(ex, owner, None, _FINISH, output=ex.output, finished=True))


# The machine's moves for each way a step can end.
_SLEEP = ("step_ok", "sleep")
_FINISH = ("step_ok", "finish")
_ADVANCE = ("step_ok", "advance")
_RETRY = ("step_error", "schedule_retry")
_GIVE_UP = ("step_error", "give_up")
