"""Every path parameter, query parameter and header is text PostgreSQL can store, checked once before any route
reads it: a NUL or a byte that is not UTF-8 is an error naming where it was, never a failed query or encode."""

from __future__ import annotations

from aiohttp import web

from conveyor.errors import HookNotFoundError, NotFoundError, ValidationError
from conveyor.http.bodies import storable_text
from conveyor.http.errors import BadRequestError, Handler

_WHY = "holds a NUL character or bytes that are not UTF-8"
# A path parameter's own "not found", where its route answers every unknown value alike (a hook's path, so that
# no answer tells one guess from another).
_NOT_FOUND: dict[str, type[NotFoundError]] = {"path": HookNotFoundError}


def check_parameters(request: web.Request) -> None:
    """Raise naming the first path parameter (404), query parameter (422) or header (400) that is not storable."""
    for name, value in request.match_info.items():
        if not storable_text(value):
            # What cannot be stored names nothing: the answer of a path that matches no resource.
            raise _NOT_FOUND.get(name, NotFoundError)(f"no resource has such a {name}: it {_WHY}", field=name)
    for name, value in request.query.items():
        if not storable_text(name):
            raise ValidationError(f"a query parameter's name {_WHY}", field="query")
        if not storable_text(value):
            raise ValidationError(f"query parameter {name!r} {_WHY}", field=name)
    for name, value in request.headers.items():
        if not (storable_text(name) and storable_text(value)):
            # The value is not quoted back: the header may be a credential.
            raise BadRequestError(f"the header {name!r} {_WHY}", field=name if storable_text(name) else "headers")


@web.middleware
async def parameters_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request whose path, query or headers hold text that cannot be stored or compared."""
    check_parameters(request)
    return await handler(request)
