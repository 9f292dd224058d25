"""One declaration per route: what it takes (path, query, body) and what it answers; the wrapper validates the
query with the declared model, and /openapi.json is generated from the same declarations."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from conveyor.errors import ValidationError
from conveyor.roles import Role
from conveyor.validation_messages import problems

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Q = TypeVar("Q", bound=BaseModel)

JSON = "application/json"
EVENT_STREAM = "text/event-stream"

_QUERY = web.RequestKey("query", BaseModel)
_ATTRIBUTE = "__conveyor_operation__"


_FLAGS = ("true", "1", "false", "0")


def _digits(value: object) -> object:
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a whole number")
    return value


def _flag(value: object) -> object:
    if isinstance(value, str) and value.lower() not in _FLAGS:
        raise ValueError("must be true or false")
    return value


Count = Annotated[int, BeforeValidator(_digits)]
"""A whole number in a query: ASCII digits only (no sign, space, `_` or fraction)."""

Flag = Annotated[bool, BeforeValidator(_flag)]
"""A yes/no in a query: true, false, 1 or 0 (any case); not pydantic's wider yes/on/t."""


class QueryModel(BaseModel):
    """A route's query parameters: unknown ones are ignored, as clients and proxies add their own."""

    model_config = ConfigDict(extra="ignore", frozen=True)


@dataclass(frozen=True, slots=True)
class Operation:
    """What one route takes and answers; a schema is a pydantic model or a type a TypeAdapter takes."""

    answers: Mapping[int, Any]  # success status → the body's schema (None: no body, or plain text)
    errors: tuple[int, ...]
    query: type[QueryModel] | None
    path: Mapping[str, Any]  # path parameter → its type; a parameter not named here is a string
    body: Any
    body_required: bool
    media: str
    public: bool  # answers without the API token
    database: bool  # may answer 503 while the database is away
    role: Role  # the least role a caller needs: the one declaration of who may call the route


def operation(
    answer: Any = None,
    *,
    status: int = 200,
    also: Mapping[int, Any] | None = None,
    errors: tuple[int, ...] = (),
    query: type[QueryModel] | None = None,
    path: Mapping[str, Any] | None = None,
    body: Any = None,
    body_required: bool = True,
    media: str = JSON,
    public: bool = False,
    database: bool = True,
    role: Role = Role.VIEWER,
) -> Callable[[Handler], Handler]:
    """Declare a route's inputs and answers; apply beneath the route decorator."""
    declared = Operation(
        answers={status: answer, **(also or {})},
        errors=errors,
        query=query,
        path=path or {},
        body=body,
        body_required=body_required,
        media=media,
        public=public,
        database=database,
        role=role,
    )

    def declare(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def validated(request: web.Request) -> web.StreamResponse:
            if query is not None:
                request[_QUERY] = parse_query(request, query)
            return await handler(request)

        setattr(validated, _ATTRIBUTE, declared)
        return validated

    return declare


def declared_operation(handler: object) -> Operation | None:
    """The declaration of a route's handler, or None when it has none."""
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Operation) else None


def parse_query(request: web.Request, model: type[Q]) -> Q:
    """The query parameters validated by `model`, or a 422 naming the first bad one."""
    raw: dict[str, str | list[str]] = {}
    for name, spec in model.model_fields.items():
        key = spec.alias or name
        values = request.query.getall(key, [])
        if values:
            raw[key] = values[0] if len(values) == 1 else values
    try:
        return model.model_validate(raw)
    except PydanticValidationError as exc:
        first = problems(exc, lambda loc: str(loc[0]) if loc else "query", model)[0]
        name = str(first["pointer"])
        value = raw.get(name)
        raise ValidationError(
            f"query parameter {name!r} {first['message']}",
            field=name,
            value=value[:200] if isinstance(value, str) else None,
        ) from exc


def query_of(request: web.Request, model: type[Q]) -> Q:
    """The query the route's declaration validated."""
    parsed = request[_QUERY]
    assert isinstance(parsed, model), f"the route declares no query model {model.__name__}"
    return parsed
