"""The error hierarchy: every failure the domain reports has a code and a message."""

from __future__ import annotations

from typing import Any


class ConveyorError(Exception):
    """Something went wrong in conveyor."""

    code = "conveyor_error"

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (type(self).__doc__ or self.code).strip()
        self.details = details
        super().__init__(self.message)


class NotFoundError(ConveyorError):
    """The resource does not exist."""

    code = "not_found"


class ValidationError(ConveyorError):
    """The request is not valid."""

    code = "validation_error"


class DefinitionError(ValidationError):
    """The workflow definition is not valid."""

    code = "invalid_definition"


class ConflictError(ConveyorError):
    """The request conflicts with the resource's current state."""

    code = "conflict"


class IllegalTransitionError(ConflictError):
    """This event is not allowed in the execution's current state."""

    code = "illegal_transition"


class StepError(ConveyorError):
    """A step failed."""

    code = "step_failed"
    retryable = True


class PermanentStepError(StepError):
    """A step failed in a way no retry can fix."""

    code = "step_failed_permanently"
    retryable = False


class DatabaseUnavailableError(ConveyorError):
    """The database cannot be reached."""

    code = "database_unavailable"


class UnauthorizedError(ConveyorError):
    """The request needs a valid bearer token."""

    code = "unauthorized"


class WorkflowInactiveError(ConflictError):
    """The workflow is deactivated: it starts no new executions."""

    code = "workflow_inactive"
