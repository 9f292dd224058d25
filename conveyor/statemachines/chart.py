"""The execution machine as data: every transition it declares, for clients that draw or check it."""

from __future__ import annotations

from conveyor.statemachines.execution import ExecutionLifecycle, Transition


def transitions() -> tuple[Transition, ...]:
    """Every declared move, conditional ones included (resume goes back to where the pause came from)."""
    found: list[Transition] = []
    for state in ExecutionLifecycle.states:
        for transition in state.transitions:
            for event in transition.events:
                move = Transition(str(transition.source.value), str(transition.target.value), str(event))
                if move not in found:
                    found.append(move)
    return tuple(found)
