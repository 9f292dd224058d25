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


class HookNotFoundError(NotFoundError):
    """No enabled webhook trigger answers at this path."""

    # One answer for every unknown path: it never echoes the path, so it tells nothing about a guess.


class ValidationError(ConveyorError):
    """The request is not valid."""

    code = "validation_error"


class DefinitionError(ValidationError):
    """The workflow definition is not valid."""

    code = "invalid_definition"


class TriggerDefinitionError(ValidationError):
    """The trigger definition is not valid."""

    code = "invalid_trigger"


class ConflictError(ConveyorError):
    """The request conflicts with the resource's current state."""

    code = "conflict"


class IllegalTransitionError(ConflictError):
    """This event is not allowed in the execution's current state."""

    code = "illegal_transition"


class SignatureError(ConveyorError):
    """The request's signature is missing or does not match the body."""

    code = "invalid_signature"


class HookTokenError(SignatureError):
    """The request does not carry the hook's token."""

    code = "invalid_token"


class MethodNotAllowedError(ConveyorError):
    """This resource does not answer this method."""

    code = "method_not_allowed"

    def __init__(self, message: str | None = None, *, allowed: list[str], **details: Any) -> None:
        super().__init__(message, allowed=allowed, **details)
        self.allowed = allowed


class BodyTooLargeError(ConveyorError):
    """The request body is larger than allowed."""

    code = "body_too_large"


class RateLimitedError(ConveyorError):
    """Too many requests for this trigger; try again later."""

    code = "rate_limited"

    def __init__(self, message: str | None = None, *, retry_after_seconds: int, **details: Any) -> None:
        super().__init__(message, retry_after_seconds=retry_after_seconds, **details)
        self.retry_after_seconds = retry_after_seconds


class StepError(ConveyorError):
    """A step failed."""

    code = "step_failed"
    retryable = True


class StepTimeoutError(StepError):
    """The step ran past its timeout."""

    code = "step_timeout"


class PermanentStepError(StepError):
    """A step failed in a way no retry can fix."""

    code = "step_failed_permanently"
    retryable = False


class NonRetryableError(PermanentStepError):
    """The action failed in a way no retry can fix: the step fails without spending its other attempts."""

    code = "non_retryable"


class RetryAfter(StepError):  # noqa: N818 - read as an instruction, `raise RetryAfter(30)`
    """The action asks to be tried again after a while: the next attempt, if the policy has one, waits that long."""

    code = "retry_after"

    def __init__(self, seconds: float, message: str | None = None, **details: Any) -> None:
        if not 0 <= seconds <= MAX_RETRY_AFTER_SECONDS:
            raise ValueError(f"RetryAfter takes 0 to {MAX_RETRY_AFTER_SECONDS} seconds, not {seconds!r}")
        super().__init__(message or f"retry asked for in {seconds:g} s", retry_after_seconds=seconds, **details)
        self.seconds = seconds


MAX_RETRY_AFTER_SECONDS = 30 * 24 * 3600


class ActionLoadError(ConveyorError):
    """An actions module could not be loaded: the worker does not start with part of its actions."""

    code = "action_load_failed"


class DatabaseUnavailableError(ConveyorError):
    """The database cannot be reached."""

    code = "database_unavailable"


class UnauthorizedError(ConveyorError):
    """The request needs a valid bearer token."""

    code = "unauthorized"


class WorkflowInactiveError(ConflictError):
    """The workflow is deactivated: it starts no new executions."""

    code = "workflow_inactive"


class ForbiddenError(ConveyorError):
    """This request may not be made from where it came."""

    code = "forbidden"


class UnsupportedMediaTypeError(ConveyorError):
    """The request body must be JSON, sent as Content-Type: application/json."""

    code = "unsupported_media_type"
