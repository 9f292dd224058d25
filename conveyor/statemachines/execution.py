"""The execution state machine: which events move an execution between which states."""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field

from statemachine import State, StateMachine
from statemachine.exceptions import TransitionNotAllowed

from conveyor.errors import IllegalTransitionError


@dataclass(slots=True)
class ExecutionModel:
    """The mutable object the machine writes its state, and its pause memory, into."""

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
    completed = State(value="completed")  # not final: an operator may run it again from a chosen node
    failed = State(value="failed")
    cancelled = State(value="cancelled", final=True)

    # A worker takes an execution that rests in one of these states.
    start = idle.to(running)
    wake = delayed.to(running)
    retry_due = retrying.to(running)
    reclaim = running.to.itself(internal=True)  # type: ignore[no-untyped-call]
    # A step ends.
    step_ok = running.to(step_completed)
    step_error = running.to(step_failed)
    advance = step_completed.to(running)
    sleep = step_completed.to(delayed)
    finish = step_completed.to(completed)
    schedule_retry = step_failed.to(retrying)
    give_up = step_failed.to(failed)
    divert = step_failed.to(running)  # the node's retries are spent: on by its error path (`on_error`)
    # An operator acts.
    retry = failed.to(running)
    rerun = failed.to(running) | completed.to(running)  # again from a chosen node, as a new visit
    pause = idle.to(paused) | running.to(paused) | delayed.to(paused) | retrying.to(paused)
    resume = (
        paused.to(idle, cond="_paused_from")
        | paused.to(delayed, cond="_paused_from")
        | paused.to(retrying, cond="_paused_from")
        | paused.to(running, cond="_paused_from")
    )
    cancel = (
        idle.to(cancelled)
        | running.to(cancelled)
        | delayed.to(cancelled)
        | retrying.to(cancelled)
        | paused.to(cancelled)
    )

    def _paused_from(self, target: State) -> bool:
        return bool(self.model.resume_state == target.value)

    def on_enter_paused(self, source: State) -> None:
        """Remember where a pause came from, so resume goes back there."""
        self.model.resume_state = source.value

    def on_exit_paused(self) -> None:
        """Forget the pause memory once out of the pause."""
        self.model.resume_state = None


CLAIM_EVENTS = ("start", "wake", "retry_due", "reclaim")
OPERATOR_EVENTS = ("pause", "resume", "cancel", "retry", "rerun")
# The operator events asked for by name: a route each, a bulk operation, a command, a button. `rerun` is asked as a
# retry with the node to run again from.
OPERATOR_VERBS = tuple(event for event in OPERATOR_EVENTS if event != "rerun")
# The operator events that start an ended execution again; only they leave a terminal state.
RESTART_EVENTS = ("retry", "rerun")


class StepEnd(enum.Enum):
    """How a step can end, as the events that carry the machine from `running` onwards."""

    ADVANCE = ("step_ok", "advance")
    SLEEP = ("step_ok", "sleep")
    FINISH = ("step_ok", "finish")
    RETRY = ("step_error", "schedule_retry")
    GIVE_UP = ("step_error", "give_up")
    DIVERT = ("step_error", "divert")
    # A guard (the execution's timeout) ends it between steps, as an operator's cancel would.
    TIME_OUT = ("cancel",)


def _moves() -> dict[str, dict[str, str]]:
    """event → {source state: target state}, read off the machine's declaration."""
    moves: dict[str, dict[str, str]] = {}
    for state in ExecutionLifecycle.states:
        for transition in state.transitions:
            for event in transition.events:
                moves.setdefault(str(event), {})[str(transition.source.value)] = str(transition.target.value)
    return moves


_MOVES = _moves()

STATES: tuple[str, ...] = tuple(str(s.value) for s in ExecutionLifecycle.states)
# Ended: nothing but an operator's restart (`retry`, `rerun`) moves the execution on.
TERMINAL_STATES: frozenset[str] = frozenset(
    s for s in STATES if not any(s in sources for e, sources in _MOVES.items() if e not in RESTART_EVENTS)
)
# Resting until a worker takes it, by the event that takes it.
_CLAIM_EVENT_OF: dict[str, str] = {source: event for event in CLAIM_EVENTS for source in _MOVES[event]}
INITIAL_STATE = str(ExecutionLifecycle.idle.value)
RUNNING = str(ExecutionLifecycle.running.value)
PAUSED = str(ExecutionLifecycle.paused.value)
COMPLETED = str(ExecutionLifecycle.completed.value)
FAILED = str(ExecutionLifecycle.failed.value)
DELAYED = str(ExecutionLifecycle.delayed.value)
RETRYING = str(ExecutionLifecycle.retrying.value)
CANCELLED = str(ExecutionLifecycle.cancelled.value)


def moves(event: str) -> tuple[Transition, ...]:
    """Every move an unconditional event makes, one per state it leaves."""
    return tuple(Transition(source, target, event) for source, target in sorted(_MOVES[event].items()))


def claim_event(state: str) -> str:
    """The event that takes an execution resting in `state` to running."""
    return _CLAIM_EVENT_OF[state]


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
        try:
            machine.send(event)
        except TransitionNotAllowed as exc:
            raise IllegalTransitionError(
                f"cannot {event} an execution that is {model.state}", event=event, state=model.state
            ) from exc
    return model.state, model.resume_state, tuple(recorder.transitions)
