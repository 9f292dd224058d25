"""The history checker's rules, on walks built by hand: each rule passes a legal history and catches its breach."""

from __future__ import annotations

import uuid

from conveyor.checker import Rule, check_walk, doubled_keys
from conveyor.statemachines import INITIAL_STATE, ExecutionModel, StepEnd, Transition, apply_events
from conveyor.store.audit import Walk


def _walk(transitions: list[Transition], state: str, *, finished: bool = False, leased: bool = False) -> Walk:
    ids = list(range(1, len(transitions) + 1))
    return Walk(uuid.uuid4(), state, None, finished, leased, ids, transitions)


def _played(*events: str) -> tuple[list[Transition], str]:
    model = ExecutionModel(INITIAL_STATE)
    transitions = apply_events(model, *events)
    return transitions, model.state


_ADVANCE, _FINISH = StepEnd.ADVANCE.value, StepEnd.FINISH.value


def test_a_legal_walk_to_the_row_state_passes() -> None:
    transitions, state = _played("start", *_ADVANCE, *_FINISH)
    assert state == "completed"
    assert check_walk(_walk(transitions, state, finished=True)) == []


def test_a_walk_through_pause_and_resume_passes() -> None:
    transitions, state = _played("start", *StepEnd.SLEEP.value, "pause", "resume", "wake")
    assert check_walk(_walk(transitions, state, leased=True)) == []


def test_an_execution_never_claimed_passes_with_no_history() -> None:
    assert check_walk(_walk([], INITIAL_STATE)) == []


def test_a_gap_in_the_walk_is_caught() -> None:
    transitions, _ = _played("start", *_ADVANCE, *_FINISH)
    del transitions[1]  # step_ok lost: advance leaves a state never reached
    [violation] = check_walk(_walk(transitions, "completed", finished=True))
    assert violation.rule is Rule.BROKEN_WALK


def test_an_event_the_machine_refuses_is_caught() -> None:
    transitions, _ = _played("start")
    transitions.append(Transition("running", "completed", "finish"))
    [violation] = check_walk(_walk(transitions, "completed", finished=True))
    assert violation.rule is Rule.ILLEGAL_TRANSITION


def test_a_target_the_machine_would_not_reach_is_caught() -> None:
    transitions = [Transition("idle", "delayed", "start")]
    [violation] = check_walk(_walk(transitions, "delayed"))
    assert violation.rule is Rule.ILLEGAL_TRANSITION


def test_a_row_state_where_the_history_does_not_end_is_caught() -> None:
    transitions, _ = _played("start", *_ADVANCE)
    [violation] = check_walk(_walk(transitions, "completed", finished=True))
    assert violation.rule is Rule.STATE_NOT_IN_HISTORY


def test_a_terminal_execution_still_leased_or_unfinished_is_caught() -> None:
    transitions, state = _played("start", *_FINISH)
    assert [v.rule for v in check_walk(_walk(transitions, state, finished=True, leased=True))] == [
        Rule.TERMINAL_UNSETTLED
    ]
    assert [v.rule for v in check_walk(_walk(transitions, state))] == [Rule.TERMINAL_UNSETTLED]


def test_a_restart_begins_a_new_run_with_its_own_terminal_state() -> None:
    transitions, state = _played("start", *StepEnd.GIVE_UP.value, "retry", *_FINISH)
    assert check_walk(_walk(transitions, state, finished=True)) == []


def test_two_keys_for_one_step_are_caught_and_repeats_of_one_key_are_not() -> None:
    step = ("e1", "crm", 1)
    assert doubled_keys([(step, "e1:crm:1"), (step, "e1:crm:1"), (("e1", "crm", 2), "e1:crm:2")]) == []
    [violation] = doubled_keys([(step, "e1:crm:1"), (step, "e1:crm:1:retry")])
    assert violation.rule is Rule.DOUBLED_KEY
