"""The execution state machine: which events move an execution between which states."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from conveyor.errors import IllegalTransitionError


@dataclass(slots=True)
class ExecutionModel:
    """The mutable object the machine writes its state into."""

    state: str
    resume_state: str | None = None


@dataclass(frozen=True, slots=True)
class Transition:
    """One move of the machine, as history records it."""

    source: str
    target: str
    event: str


@dataclass(slots=True)
class _Recorder:
    transitions: list[Transition] = field(default_factory=list)

    def after_transition(self, event: object, source: State, target: State) -> None:
        self.transitions.append(Transition(str(source.value), str(target.value), str(getattr(event, "id", event))))


class ExecutionLifecycle(StateMachine):
    """idle → running → stepCompleted/stepFailed → … → completed/failed/cancelled, plus paused."""

    allow_event_without_transition = False
    catch_errors_as_events = False

    idle = State(initial=True, value="idle")
    running = State(value="running")
    step_completed = State(value="stepCompleted")
    step_failed = State(value="stepFailed")
    retrying = State(value="retrying")
    delayed = State(value="delayed")
    paused = State(value="paused")
    completed = State(value="completed", final=True)
    failed = State(value="failed")
    cancelled = State(value="cancelled", final=True)

    start = idle.to(running)
    step_ok = running.to(step_completed)
    step_error = running.to(step_failed)
    advance = step_completed.to(running)
    sleep = step_completed.to(delayed)
    finish = step_completed.to(completed)
    schedule_retry = step_failed.to(retrying)
    give_up = step_failed.to(failed)
    wake = delayed.to(running)
    retry_due = retrying.to(running)
    reclaim = running.to.itself(internal=True)  # type: ignore[no-untyped-call]
    retry = failed.to(running)
    pause = idle.to(paused) | running.to(paused) | delayed.to(paused) | retrying.to(paused)
    resume = (
        paused.to(idle, cond="_resumes_to_idle")
        | paused.to(delayed, cond="_resumes_to_delayed")
        | paused.to(retrying, cond="_resumes_to_retrying")
        | paused.to(running, cond="_resumes_to_running")
    )
    cancel = (
        idle.to(cancelled)
        | running.to(cancelled)
        | delayed.to(cancelled)
        | retrying.to(cancelled)
        | paused.to(cancelled)
    )

    def _resumes_to_idle(self) -> bool:
        return bool(self.model.resume_state == "idle")

    def _resumes_to_delayed(self) -> bool:
        return bool(self.model.resume_state == "delayed")

    def _resumes_to_retrying(self) -> bool:
        return bool(self.model.resume_state == "retrying")

    def _resumes_to_running(self) -> bool:
        return bool(self.model.resume_state == "running")


STATES: tuple[str, ...] = tuple(str(s.value) for s in ExecutionLifecycle.states)
TERMINAL_STATES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})


def apply_events(model: ExecutionModel, *events: str) -> list[Transition]:
    """Fire events in order on the model; raise IllegalTransitionError if one is not allowed."""
    state, resume_state, transitions = _run(model.state, model.resume_state, events)
    model.state, model.resume_state = state, resume_state
    return list(transitions)


@functools.lru_cache(maxsize=1024)
def _run(
    state: str, resume_state: str | None, events: tuple[str, ...]
) -> tuple[str, str | None, tuple[Transition, ...]]:
    # The machine is pure: the same start and events always give the same moves, so each distinct
    # sequence runs through python-statemachine once and is remembered (building a machine costs ~0.1 ms).
    model = ExecutionModel(state, resume_state)
    recorder = _Recorder()
    machine = ExecutionLifecycle(model=model, listeners=[recorder])
    for event in events:
        if event == "pause":
            model.resume_state = model.state
        try:
            machine.send(event)
        except TransitionNotAllowed as exc:
            raise IllegalTransitionError(
                f"cannot {event} an execution that is {model.state}", event=event, state=model.state
            ) from exc
    if model.state != "paused":
        model.resume_state = None
    return model.state, model.resume_state, tuple(recorder.transitions)
