"""The execution lifecycle, defined once."""

from conveyor.statemachines.execution import (
    ACTIVE_STATES,
    STATES,
    TERMINAL_STATES,
    ExecutionLifecycle,
    ExecutionModel,
    Transition,
    apply_events,
)

__all__ = [
    "ACTIVE_STATES",
    "STATES",
    "TERMINAL_STATES",
    "ExecutionLifecycle",
    "ExecutionModel",
    "Transition",
    "apply_events",
]
