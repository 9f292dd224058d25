"""Reading request bodies and parameters, with errors that name the field."""

from __future__ import annotations

import json
import math
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import NotFoundError, ValidationError
from conveyor.http.errors import BadRequestError, BodyTooLargeError
from conveyor.jsonvalue import JSONValue
from conveyor.validation_messages import problems

M = TypeVar("M", bound=BaseModel)

# PostgreSQL's integer holds nine digits safely.
_MAX_PATH_DIGITS = 9


# Far more than any real number needs; Python itself refuses to parse more than 4,300 digits.
MAX_INTEGER_DIGITS = 1_000


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large to store")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise ValueError(f"an integer of {len(text.lstrip('-'))} digits is too long; at most {MAX_INTEGER_DIGITS}")
    return int(text)


async def json_body(request: web.Request) -> JSONValue:
    """The body as JSON that PostgreSQL can store, or a 400 saying why it is not."""
    try:
        text = await request.text()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyTooLargeError(
            f"the request body is larger than {request.client_max_size} bytes",
            field="body",
            max_bytes=request.client_max_size,
        ) from exc
    except (UnicodeDecodeError, LookupError) as exc:
        raise BadRequestError(f"the request body is not valid text: {exc}", field="body") from exc
    if not text.strip():
        raise BadRequestError("the request body is empty; send a JSON document", field="body")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except ValueError as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}", field="body") from exc
    except RecursionError as exc:
        raise BadRequestError("the request body is nested too deeply", field="body") from exc
    _check_storable(value)
    return value


def _check_storable(value: JSONValue) -> None:
    """Refuse what PostgreSQL cannot store: NUL characters, lone surrogates, numbers too large for a double."""
    stack: list[tuple[str, JSONValue]] = [("", value)]
    while stack:
        pointer, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{pointer}/{k}", v) for k, v in item.items())
            stack.extend((f"{pointer}/{k}", k) for k in item)
        elif isinstance(item, list):
            stack.extend((f"{pointer}/{i}", v) for i, v in enumerate(item))
        elif isinstance(item, str) and not storable_text(item):
            raise BadRequestError(
                "the request body holds a NUL character or a lone surrogate, which cannot be stored",
                field=pointer or "body",
            )
        elif isinstance(item, float) and not math.isfinite(item):
            raise BadRequestError("the request body holds a number too large to store", field=pointer or "body")


def storable_text(text: str) -> bool:
    """Whether PostgreSQL can store this text: no NUL character, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def model_body(request: web.Request, model: type[M]) -> M:
    """The body validated against a pydantic model, or a 422 naming the field."""
    body = await json_body(request)
    try:
        return model.model_validate(body)
    except PydanticValidationError as exc:
        errors = problems(exc, _pointer, model)
        first = errors[0]
        raise ValidationError(
            f"invalid request body at {first['pointer']}: {first['message']}", field=first["pointer"], errors=errors
        ) from exc


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/" + "/".join(str(p) for p in loc) if loc else ""


def path_uuid(request: web.Request, name: str = "id") -> uuid.UUID:
    """A UUID from the path; anything else cannot name a resource, so 404."""
    raw = request.match_info[name]
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFoundError(f"no resource has the id {raw!r}", field=name, value=raw) from exc


def path_int(request: web.Request, name: str) -> int:
    """A positive integer from the path; anything else cannot name a resource, so 404."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_PATH_DIGITS or int(raw) < 1:
        raise NotFoundError(f"no resource has the number {raw!r}", field=name, value=raw)
    return int(raw)


def query_uuid(request: web.Request, name: str) -> uuid.UUID | None:
    """An optional UUID query parameter, or a 422 naming it."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise ValidationError(f"query parameter {name!r} must be a UUID", field=name, value=raw) from exc


def query_int(request: web.Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within bounds, or a 422 naming it."""
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValidationError(f"query parameter {name!r} must be an integer", field=name, value=raw) from exc
    if not low <= value <= high:
        raise ValidationError(f"query parameter {name!r} must be between {low} and {high}", field=name, value=raw)
    return value


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def query_bool(request: web.Request, name: str) -> bool:
    """A true/false query parameter (absent: false), or a 422 naming it."""
    raw = request.query.get(name, "false")
    if raw.lower() not in _BOOLEANS:
        raise ValidationError(f"query parameter {name!r} must be true or false", field=name, value=raw[:100])
    return _BOOLEANS[raw.lower()]
