"""Reading request bodies and parameters, with errors that name the field."""

from __future__ import annotations

import json
import math
import uuid
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import BodyTooLargeError, NotFoundError, UnsupportedMediaTypeError, ValidationError
from conveyor.http.errors import BadRequestError
from conveyor.jsonvalue import JSONValue
from conveyor.validation_messages import problems

M = TypeVar("M", bound=BaseModel)

# PostgreSQL's integer.
_MAX_PATH_NUMBER = 2**31 - 1


# Far more than any real number needs; Python itself refuses to parse more than 4,300 digits.
MAX_INTEGER_DIGITS = 1_000
# Deeper than any definition needs (a rule may be 64 operators deep, two JSON levels each, an `if` chain 100), and
# shallow enough that no recursive walk of the value (validation, templating, encoding) nears Python's recursion limit.
MAX_JSON_DEPTH = 256


def decimal(text: str, high: int) -> int | None:
    """The number `text` writes in ASCII digits (no sign, space or `_`), if at most `high`; None otherwise."""
    if not text or len(text) > len(str(high)) or not text.isascii() or not text.isdigit():
        return None
    value = int(text)
    return value if value <= high else None


def _check_media_type(request: web.Request) -> None:
    """Refuse a body not sent as JSON: a page on another origin can send text/plain or a form, never JSON."""
    media = request.content_type  # application/octet-stream when the header is absent
    json_type = media == "application/json" or (media.startswith("application/") and media.endswith("+json"))
    if not json_type or (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaTypeError(
            f"the body must be sent with Content-Type: application/json (UTF-8), not {media[:100]!r}",
            field="Content-Type",
        )


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
    """The body as JSON that PostgreSQL can store, or a 4xx saying why it is not."""
    _check_media_type(request)
    try:
        text = await request.text()
    except web.HTTPRequestEntityTooLarge as exc:
        raise BodyTooLargeError(
            f"the request body is larger than {request.client_max_size} bytes (CONVEYOR_MAX_BODY)",
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
    """Refuse what PostgreSQL cannot store (NUL characters, lone surrogates, numbers too large for a double), and
    nesting deeper than MAX_JSON_DEPTH."""
    stack: list[tuple[str, JSONValue, int]] = [("", value, 0)]
    while stack:
        pointer, item, depth = stack.pop()
        if isinstance(item, dict | list) and depth >= MAX_JSON_DEPTH:
            raise BadRequestError(
                f"the request body is nested deeper than {MAX_JSON_DEPTH} levels", field=pointer or "body"
            )
        if isinstance(item, dict):
            stack.extend((f"{pointer}/{k}", v, depth + 1) for k, v in item.items())
            stack.extend((f"{pointer}/{k}", k, depth + 1) for k in item)
        elif isinstance(item, list):
            stack.extend((f"{pointer}/{i}", v, depth + 1) for i, v in enumerate(item))
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
    return "/" + "/".join(str(p) for p in loc)  # the whole body is "/", as the API has always named it


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
    number = decimal(raw, _MAX_PATH_NUMBER)
    if number is None or number < 1:
        raise NotFoundError(f"no resource has the number {raw[:100]!r}", field=name, value=raw[:100])
    return number
