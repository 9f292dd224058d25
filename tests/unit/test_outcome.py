"""Planning a step's commit: pure functions from an execution, a node and what it answered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from conveyor.engine.outcome import oversized, plan_failure, plan_finish_without_node, plan_success
from conveyor.engine.runner import StepLimits
from conveyor.errors import PermanentStepError, StepError
from conveyor.nodes.base import Completed, Sleep, SpawnChild, WaitForChild
from conveyor.nodes.kinds import parse_definition
from conveyor.statemachines import CLAIM_EVENTS, STATES, claim_event
from conveyor.store.executions import Execution
from conveyor.store.steps import Wake

NOW = datetime(2026, 11, 25, tzinfo=UTC)
DEFINITION = parse_definition(
    {
        "name": "plan",
        "start": "a",
        "nodes": [
            {"id": "a", "type": "action", "action": "noop", "next": "b", "retry": {"max_attempts": 3}},
            {"id": "b", "type": "condition", "rule": True, "then": "c", "else": None},
            {"id": "c", "type": "delay", "duration": "1s"},
        ],
    }
)


def running(node: str = "a", attempt: int = 1, visit: int = 1) -> Execution:
    return Execution(
        id=uuid.uuid4(),
        workflow_id=uuid.uuid4(),
        workflow_version=1,
        state="running",
        resume_state=None,
        current_node=node,
        visit=visit,
        attempt=attempt,
        generation=0,
        input={},
        context={},
        output=None,
        error=None,
        wake_at=NOW,
        lease_owner="w",
        version=7,
        pause_requested=False,
        parent_id=None,
        parent_node=None,
        dedupe_key=None,
        trigger_id=None,
        created_at=NOW,
        started_at=NOW,
        finished_at=None,
    )


def test_a_completed_step_with_a_next_node_advances_under_the_same_lease() -> None:
    ex = running()
    commit = plan_success(ex, "w", DEFINITION.node("a"), Completed(output={"x": 1}), {"p": 1}).commit
    assert (commit.state, commit.current_node, commit.visit, commit.attempt) == ("running", "b", 2, 1)
    assert [t.event for t in commit.transitions] == ["step_ok", "advance"]
    assert commit.wake == Wake(keep_lease=True)
    assert commit.context_patch == {"a": {"output": {"x": 1}, "visits": 1}}
    assert commit.step is not None
    assert (commit.step.status, commit.step.input) == ("completed", {"p": 1})
    assert (commit.lease.execution_id, commit.lease.owner, commit.lease.version) == (ex.id, "w", 7)
    assert not commit.finished


def test_a_branch_to_nowhere_completes_with_the_step_output() -> None:
    outcome = Completed(output={"result": False}, branched=True, branch=None)
    commit = plan_success(running("b"), "w", DEFINITION.node("b"), outcome, None).commit
    assert (commit.state, commit.current_node, commit.output, commit.finished) == (
        "completed",
        None,
        {"result": False},
        True,
    )


def test_a_sleep_delays_the_execution_without_a_lease() -> None:
    commit = plan_success(running("c"), "w", DEFINITION.node("c"), Sleep(seconds=1.0), None).commit
    assert commit.state == "delayed"
    assert commit.wake == Wake(after_seconds=1.0)
    assert [t.event for t in commit.transitions] == ["step_ok", "sleep"]


def test_spawning_a_child_records_a_waiting_step_and_the_child_to_insert() -> None:
    ex = running()
    spawn = SpawnChild(uuid.uuid4(), 2, "start", {"k": 1}, "key")
    planned = plan_success(ex, "w", DEFINITION.node("a"), spawn, None)
    assert planned.child is not None
    assert (planned.child.parent_id, planned.child.id, planned.child.dedupe_key) == (ex.id, spawn.child_id, "key")
    assert planned.commit.state == "delayed"
    assert planned.commit.step is not None
    assert planned.commit.step.status == "waiting"
    assert planned.commit.current_node == "a"


def test_waiting_for_a_child_keeps_the_node_and_writes_no_step() -> None:
    child = uuid.uuid4()
    planned = plan_success(running(), "w", DEFINITION.node("a"), WaitForChild(child), None)
    assert planned.waits_for == child
    assert (planned.commit.state, planned.commit.step, planned.commit.current_node) == ("delayed", None, "a")


def test_a_failure_with_attempts_left_schedules_a_retry_of_the_same_visit() -> None:
    commit = plan_failure(running(attempt=1), "w", DEFINITION.node("a"), StepError("boom"), None).commit
    assert (commit.state, commit.current_node, commit.visit, commit.attempt) == ("retrying", "a", 1, 2)
    assert commit.wake.after_seconds is not None
    assert commit.wake.after_seconds > 0
    assert commit.error["code"] == "step_failed"
    assert commit.step is not None
    assert commit.step.attempt == 1


def test_a_permanent_failure_gives_up_at_once() -> None:
    commit = plan_failure(running(attempt=1), "w", DEFINITION.node("a"), PermanentStepError("no"), None).commit
    assert (commit.state, commit.finished) == ("failed", True)
    assert [t.event for t in commit.transitions] == ["step_error", "give_up"]


def test_the_last_attempt_gives_up() -> None:
    commit = plan_failure(running(attempt=3), "w", DEFINITION.node("a"), RuntimeError("x"), None).commit
    assert commit.state == "failed"
    assert commit.error["message"] == "RuntimeError: x"


def test_waking_after_a_final_delay_completes_with_nothing_left_to_run() -> None:
    commit = plan_finish_without_node(running(node="c"), "w").commit
    assert (commit.state, commit.finished, commit.step) == ("completed", True, None)


@pytest.mark.parametrize(
    ("state", "event"), [("idle", "start"), ("delayed", "wake"), ("retrying", "retry_due"), ("running", "reclaim")]
)
def test_each_resting_state_has_its_claim_event(state: str, event: str) -> None:
    assert claim_event(state) == event
    assert event in CLAIM_EVENTS


@pytest.mark.parametrize("state", sorted(set(STATES) - {"idle", "delayed", "retrying", "running"}))
def test_no_other_state_can_be_claimed(state: str) -> None:
    with pytest.raises(KeyError):
        claim_event(state)


def test_a_result_over_the_cap_is_named_by_its_part_and_the_setting() -> None:
    planned = plan_success(running(), "w", DEFINITION.node("a"), Completed(output={"big": "x" * 2000}), {"n": 1})
    assert oversized(planned, 4096) is None
    too_large = oversized(planned, 1000)
    assert too_large is not None
    assert too_large.details["field"] == "output"
    assert "CONVEYOR_MAX_RESULT (1000 bytes)" in too_large.message
    assert not too_large.retryable


def test_a_step_timeout_defaults_and_is_capped() -> None:
    limits = StepLimits(timeout_seconds=300, max_timeout_seconds=900, max_result_bytes=1)
    node = DEFINITION.node("a")
    assert limits.timeout(node) == 300
    assert limits.timeout(node.model_copy(update={"timeout": timedelta(seconds=10)})) == 10
    assert limits.timeout(node.model_copy(update={"timeout": timedelta(hours=1)})) == 900
