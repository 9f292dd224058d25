"""The client's errors: one per kind of refusal, each carrying the API's status, code, message and field."""

from __future__ import annotations

from typing import Any

from conveyor.errors import ConveyorError


class ApiError(ConveyorError):
    """The API answered with an error, or could not be reached (status 0)."""

    code = "api_error"

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details if isinstance(details, dict) else {}
        self.code = code
        self.status = status

    @property
    def field(self) -> str | None:
        """The JSON pointer of the offending field (`/nodes/0/action`), or the header or parameter, if named."""
        found = self.details.get("field")
        return found if isinstance(found, str) else None

    def __str__(self) -> str:
        """`code: message`, as the CLI prints it."""
        return f"{self.code}: {self.message}"


class UnauthorizedError(ApiError):
    """No token, or not the right one (401)."""


class NotFoundError(ApiError):
    """Nothing has this id or name (404)."""


class ConflictError(ApiError):
    """The resource's state does not allow this, e.g. pausing a finished execution (409)."""


class InvalidError(ApiError):
    """A parameter or a body field is invalid; `field` names it (422)."""


class TooManyRequestsError(ApiError):
    """Too many requests waiting or deliveries (429): try again later."""


class UnavailableError(ApiError):
    """The API or its database cannot be reached (503, or no answer at all)."""


_BY_STATUS: dict[int, type[ApiError]] = {
    0: UnavailableError,
    401: UnauthorizedError,
    404: NotFoundError,
    409: ConflictError,
    422: InvalidError,
    429: TooManyRequestsError,
    503: UnavailableError,
}


def api_error(status: int, code: str, message: str, details: Any = None) -> ApiError:
    """The error of this status's kind."""
    return _BY_STATUS.get(status, ApiError)(status, code, message, details)
