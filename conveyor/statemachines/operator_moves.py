"""What an operator's event does to one execution: a move of the machine, or a pause request for its worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from conveyor.statemachines import RESTART_EVENTS, RUNNING, ExecutionModel, Transition, apply_events

Wake = Literal["now", "keep", "clear"]
# How each operator event moves wake_at: due now, kept (a delay's due time survives a pause), or cleared.
_WAKE: dict[str, Wake] = {"pause": "keep", "cancel": "clear", "retry": "now", "rerun": "now"}


@dataclass(frozen=True, slots=True)
class Move:
    """The machine's move: the new state, its pause memory, the history rows, and what happens to wake_at."""

    state: str
    resume_state: str | None
    transitions: tuple[Transition, ...]
    wake: Wake
    # A restart: attempt 1 again, in a new generation (a retried shared-flow step starts a fresh child).
    restart: bool


@dataclass(frozen=True, slots=True)
class PauseRequest:
    """A step is running: ask its worker to pause right after it (or withdraw that request)."""

    requested: bool


def plan_move(
    event: str, state: str, resume_state: str | None, *, in_flight: bool, pause_requested: bool
) -> Move | PauseRequest:
    """The effect of `event`; IllegalTransitionError when the state does not allow it.

    Pausing a step in flight only flags it: the step finishes first and its worker then pauses it;
    resuming before that withdraws the request.
    """
    if in_flight and event in ("pause", "resume") and (event == "pause" or pause_requested):
        return PauseRequest(event == "pause")
    model = ExecutionModel(state, resume_state)
    transitions = apply_events(model, event)
    wake = _WAKE.get(event) or ("now" if model.state == RUNNING else "keep")
    return Move(model.state, model.resume_state, tuple(transitions), wake, event in RESTART_EVENTS)
