"""Every error answer is JSON: {"error": {"code", "message", "details"}}; the HTTP status is mapped here only."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from conveyor.errors import (
    BodyTooLargeError,
    ConflictError,
    ConveyorError,
    DatabaseUnavailableError,
    ForbiddenError,
    MethodNotAllowedError,
    NotFoundError,
    RateLimitedError,
    SignatureError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from conveyor.jsonvalue import JSONObject
from conveyor.redaction import KNOWN

log = structlog.get_logger(__name__)

# How long a client should wait before trying again while the database is away.
_RETRY_AFTER_SECONDS = "5"

_STATUS: tuple[tuple[type[ConveyorError], int], ...] = (
    (NotFoundError, 404),
    (ValidationError, 422),
    (ConflictError, 409),
    (SignatureError, 401),
    (UnauthorizedError, 401),
    (BodyTooLargeError, 413),
    (ForbiddenError, 403),
    (UnsupportedMediaTypeError, 415),
)
# Told with a 401, so a client knows which scheme to answer with.
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="conveyor"'}


def error_response(
    status: int, code: str, message: str, details: JSONObject | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """A JSON error answer."""
    # An error message can quote what a secret was rendered into: no known value leaves in one.
    body = KNOWN.redactor.value({"error": {"code": code, "message": message, "details": details or {}}})
    return web.json_response(body, status=status, headers=headers, dumps=lambda v: json.dumps(v, default=str))


class BadRequestError(ConveyorError):
    """The request body is not valid JSON."""

    code = "bad_request"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _default_message(exc: ConveyorError) -> str:
    """The error class's own message (its docstring), the same whatever was asked for."""
    return (type(exc).__doc__ or exc.code).strip()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer domain errors and aiohttp's own with the JSON error shape; never a bare 500."""
    try:
        return await handler(request)
    except BadRequestError as exc:
        return error_response(400, exc.code, exc.message, exc.details)
    except DatabaseUnavailableError as exc:
        log.warning("database_unavailable", error=exc.message, path=request.path)
        return error_response(503, exc.code, exc.message, exc.details, {"Retry-After": _RETRY_AFTER_SECONDS})
    except MethodNotAllowedError as exc:
        return error_response(405, exc.code, exc.message, exc.details, {"Allow": ", ".join(exc.allowed)})
    except RateLimitedError as exc:
        headers = {"Retry-After": str(exc.retry_after_seconds)}
        return error_response(429, exc.code, exc.message, exc.details, headers)
    except NotFoundError as exc:
        # What a caller looked for is in their path; echoed back (and redacted when it equals a secret's value),
        # it would tell them whether a guess was right. A 404 says which resource, never which name.
        field = exc.details.get("field")
        return error_response(404, exc.code, _default_message(exc), {"field": field} if field else None)
    except ConveyorError as exc:
        status = next((s for cls, s in _STATUS if isinstance(exc, cls)), 500)
        if status == 500:
            log.error("request_failed", code=exc.code, error=exc.message, path=request.path)
        challenge = _CHALLENGE if isinstance(exc, UnauthorizedError) else None
        return error_response(status, exc.code, exc.message, exc.details, challenge)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        # The path is not echoed: what a caller sent is theirs already, and an echo could be redacted (below).
        return error_response(exc.status, code, exc.reason)
    except Exception:
        log.exception("request_crashed", path=request.path, method=request.method)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
