"""pydantic's validation errors told as a person can act on them: what is wrong, where, and what is allowed.

Every 422 built from a pydantic error (a definition, a trigger, a request body, a query) goes through
`problems`, which words each error by its type, never passing on pydantic's own phrasing ("Value error, …",
"Input tag … found using …", "input_value=", a documentation link).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Collection
from typing import Annotated, Literal

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails

from conveyor.jsonvalue import JSONObject, JSONValue

Location = tuple[int | str, ...]
_VALUE_CHARS = 200

_SIMPLE: dict[str, str] = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_unicode": "must be a string of valid text",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number, not a fraction",
    "int_parsing_size": "is too large a number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "none_required": "must be null",
    "time_delta_type": "must be a duration such as '200ms', '2s', '5m', '1h', '2d' or ISO 8601 'PT5M'",
    "time_delta_parsing": "must be a duration such as '200ms', '2s', '5m', '1h', '2d' or ISO 8601 'PT5M'",
    "datetime_type": "must be a date and time in ISO 8601 with an offset, such as '2026-06-01T12:00:00Z'",
    "datetime_parsing": "must be a date and time in ISO 8601 with an offset, such as '2026-06-01T12:00:00Z'",
    "datetime_from_date_parsing": "must be a date and time in ISO 8601 with an offset, such as '2026-06-01T12:00:00Z'",
    "timezone_aware": "must carry a UTC offset, such as 'Z' or '+02:00'",
    "date_type": "must be a date such as '2026-06-01'",
    "date_parsing": "must be a date such as '2026-06-01'",
    "uuid_type": "must be a UUID",
    "uuid_parsing": "must be a UUID",
    "url_type": "must be a URL",
    "url_parsing": "must be a URL such as 'https://example.com/path'",
    "url_scheme": "must be an http or https URL",
    "json_invalid": "is not valid JSON",
    "json_type": "must be JSON text",
    "recursion_loop": "is nested in itself",
    "recursion_depth_exceeded": "is nested too deeply",
    "string_not_ascii": "must be ASCII text",
    "url_syntax_violation": "must be a URL such as 'https://example.com/path'",
    "url_too_long": "is too long a URL",
    "timezone_naive": "must not carry a UTC offset",
    "timezone_offset": "has the wrong UTC offset",
    "date_past": "must be in the past",
    "datetime_past": "must be in the past",
    "date_future": "must be in the future",
    "datetime_future": "must be in the future",
    "time_type": "must be a time of day such as '09:30'",
    "time_parsing": "must be a time of day such as '09:30'",
    "decimal_type": "must be a number",
    "decimal_parsing": "must be a number",
    "mapping_type": "must be an object",
    "iterable_type": "must be a list",
    "frozen_set_type": "must be a list",
    "bytes_type": "must be a string",
    "invalid_key": "has a key that is not a string",
    "frozen_field": "cannot be changed",
    "frozen_instance": "cannot be changed",
}

_BOUNDS: dict[str, str] = {
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "string_too_short": "must have at least {min_length} character(s)",
    "string_too_long": "must have at most {max_length} character(s)",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
    "string_pattern_mismatch": "must match the pattern {pattern}",
}


def problems(
    exc: PydanticValidationError,
    pointer: Callable[[Location], str],
    root: object = None,
    *,
    hidden: Collection[str] = (),
) -> list[JSONObject]:
    """Each error of `exc` as {"pointer", "message", "value"}; `root` (the validated type) lets an unknown field's
    message list the fields allowed there, and the value of a field named in `hidden` is never echoed."""
    found: list[JSONObject] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        where = pointer(loc)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            where = f"{where}/{_discriminator(error)}"
        secret = any(isinstance(p, str) and p in hidden for p in loc)
        found.append({"pointer": where, "message": _message(error, loc, root), "value": _value(error, secret)})
    return found


def _message(error: ErrorDetails, loc: Location, root: object) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in _BOUNDS:
        return _BOUNDS[kind].format_map(_Context(ctx))
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", "is not valid"))
    if kind == "union_tag_invalid":
        return f"{ctx.get('tag')!r} is not a known {_discriminator(error)}: use one of {ctx.get('expected_tags')}"
    if kind == "union_tag_not_found":
        return f"needs a {_discriminator(error)}, which tells what kind of thing this is"
    if kind == "extra_forbidden":
        allowed = _fields_at(root, loc[:-1])
        field = loc[-1] if loc else "?"
        listed = f": the fields here are {', '.join(allowed)}" if allowed else ""
        return f"{field!r} is not a field here (check its spelling){listed}"
    if kind.endswith(("_type", "_parsing")):
        return "has the wrong type"
    if "msg" in error and not error["msg"].startswith(("Value error", "Input")):
        return error["msg"]  # a custom error type's own message (a discriminator's, say)
    return "is not valid here"


class _Context(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "?"


def _discriminator(error: ErrorDetails) -> str:
    return str((error.get("ctx") or {}).get("discriminator", "type")).strip("'")


def _value(error: ErrorDetails, secret: bool) -> JSONValue:
    if secret or error["type"] == "missing":
        return None
    value = error.get("input")
    if error["type"] == "union_tag_invalid":
        value = (error.get("ctx") or {}).get("tag")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value if len(value) <= _VALUE_CHARS else value[:_VALUE_CHARS] + "…"
    return None  # an object or a list: the pointer names it, the body already holds it


def _fields_at(root: object, loc: Location) -> list[str] | None:
    """The field names of the model at `loc` under `root`, when the path leads to exactly one model."""
    at: object = root
    for part in loc:
        step = _step(at, part)
        if step is None:
            return None
        at = step
    models = _models(at)
    if len(models) != 1:
        return None
    return [spec.alias or name for name, spec in models[0].model_fields.items()]


def _step(at: object, part: int | str) -> object | None:
    members = _members(at)
    if isinstance(part, int):
        lists = [typing.get_args(m)[0] for m in members if typing.get_origin(m) in (list, tuple) and typing.get_args(m)]
        return lists[0] if len(lists) == 1 else None
    models = _models(at)
    if len(models) > 1:  # a union's member, named by its tag
        return next((m for m in models if _tag_of(m) == part), None)
    for member in members:
        if isinstance(member, type) and issubclass(member, BaseModel) and part in member.model_fields:
            return member.model_fields[part].annotation
        if typing.get_origin(member) is dict:
            value: object = typing.get_args(member)[1]
            return value
    return None


def _members(at: object) -> list[object]:
    """A type with its Annotated and Optional wrappers undone, and a union as its members."""
    while typing.get_origin(at) is Annotated:
        at = typing.get_args(at)[0]
    if typing.get_origin(at) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(at) for m in _members(a) if m is not type(None)]
    return [at]


def _models(at: object) -> list[type[BaseModel]]:
    return [m for m in _members(at) if isinstance(m, type) and issubclass(m, BaseModel)]


def _tag_of(model: type[BaseModel]) -> str | None:
    """The tag pydantic puts in a location for a model of a tagged union: its `type` literal, or its own tag."""
    tag = getattr(model, "tag", None)
    if callable(tag):
        try:
            return str(tag())
        except (KeyError, TypeError, ValueError):
            return None
    spec = model.model_fields.get("type")
    if spec is not None and typing.get_origin(spec.annotation) is Literal:
        return str(typing.get_args(spec.annotation)[0])
    return None
