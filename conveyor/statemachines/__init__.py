"""The execution lifecycle, defined once."""

from conveyor.statemachines.execution import (
    STATES,
    TERMINAL_STATES,
    ExecutionLifecycle,
    ExecutionModel,
    Transition,
    apply_events,
)

__all__ = [
    "STATES",
    "TERMINAL_STATES",
    "ExecutionLifecycle",
    "ExecutionModel",
    "Transition",
    "apply_events",
]
