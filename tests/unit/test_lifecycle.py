import pytest

from conveyor.errors import IllegalTransitionError
from conveyor.statemachines import STATES, TERMINAL_STATES, ExecutionModel, apply_events


def test_states_are_the_design_strings() -> None:
    assert set(STATES) == {
        "idle",
        "running",
        "stepCompleted",
        "stepFailed",
        "retrying",
        "delayed",
        "paused",
        "completed",
        "failed",
        "cancelled",
    }


def test_schema_check_lists_exactly_the_machine_states() -> None:
    from conveyor.store.migrations import head_schema

    check = head_schema().split("executions_state_check CHECK (state IN (")[1].split("))")[0]
    assert {s.strip().strip("'") for s in check.replace("\n", " ").split(",")} == set(STATES)


def test_a_step_that_fails_with_attempts_left_goes_to_retrying_then_running() -> None:
    model = ExecutionModel("running")
    moves = apply_events(model, "step_error", "schedule_retry", "retry_due")
    assert [(t.source, t.target) for t in moves] == [
        ("running", "stepFailed"),
        ("stepFailed", "retrying"),
        ("retrying", "running"),
    ]


def test_pause_remembers_where_it_was_and_resume_returns_there() -> None:
    for state in ("idle", "delayed", "retrying", "running"):
        model = ExecutionModel(state)
        apply_events(model, "pause")
        assert (model.state, model.resume_state) == ("paused", state)
        apply_events(model, "resume")
        assert (model.state, model.resume_state) == (state, None)


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_pause_of_an_ended_execution_is_illegal(state: str) -> None:
    with pytest.raises(IllegalTransitionError, match=f"cannot pause an execution that is {state}"):
        apply_events(ExecutionModel(state), "pause")


def test_only_failed_executions_can_be_retried() -> None:
    assert apply_events(ExecutionModel("failed"), "retry")[0].target == "running"
    with pytest.raises(IllegalTransitionError):
        apply_events(ExecutionModel("completed"), "retry")


def test_cancelled_is_final() -> None:
    for event in ("resume", "retry", "cancel", "start"):
        with pytest.raises(IllegalTransitionError):
            apply_events(ExecutionModel("cancelled"), event)


def test_terminal_states_are_read_off_the_machine() -> None:
    assert {"completed", "failed", "cancelled"} == TERMINAL_STATES


def test_the_due_index_leaves_out_the_machines_paused_state() -> None:
    from conveyor.statemachines import PAUSED
    from conveyor.store.claims import _CLAIM
    from conveyor.store.migrations import head_schema

    predicate = f"WHERE wake_at IS NOT NULL AND state <> '{PAUSED}'"
    assert predicate in head_schema()
    assert predicate.removeprefix("WHERE ") in _CLAIM.sql
