"""The execution lifecycle, defined once."""

from conveyor.statemachines.execution import (
    CLAIM_EVENTS,
    COMPLETED,
    DELAYED,
    INITIAL_STATE,
    OPERATOR_EVENTS,
    PAUSED,
    RUNNING,
    STATES,
    TERMINAL_STATES,
    ExecutionLifecycle,
    ExecutionModel,
    StepEnd,
    Transition,
    apply_events,
    claim_event,
)

__all__ = [
    "CLAIM_EVENTS",
    "COMPLETED",
    "DELAYED",
    "INITIAL_STATE",
    "OPERATOR_EVENTS",
    "PAUSED",
    "RUNNING",
    "STATES",
    "TERMINAL_STATES",
    "ExecutionLifecycle",
    "ExecutionModel",
    "StepEnd",
    "Transition",
    "apply_events",
    "claim_event",
]
