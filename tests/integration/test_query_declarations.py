"""Every route reads its query from the model its operation declares: no handler module parses request.query
again by hand, so the bounds /openapi.json shows are the ones the handler applies."""

from __future__ import annotations

import inspect
import re
from types import ModuleType

from aiohttp import web

from conveyor.http import hooks
from conveyor.http.app import create_app
from conveyor.http.operation import declared_operation
from conveyor.store import Pool

_HAND_PARSED = re.compile(r"\brequest\.(rel_url\.)?query\b|\bquery_(int|bool|uuid)\(")
# A GET hook's query is the delivery's payload, whatever its sender puts there: no model can declare it.
_PAYLOAD_QUERY = {hooks}


def _handler_modules(app: web.Application) -> dict[ModuleType, list[str]]:
    """Each module holding a declared route's handler, with the routes whose operation declares a query."""
    found: dict[ModuleType, list[str]] = {}
    for route in app.router.routes():
        declared = declared_operation(route.handler)
        module = inspect.getmodule(route.handler)
        if declared is None or module is None:
            continue
        queried = found.setdefault(module, [])
        if declared.query is not None:
            queried.append(f"{route.method} {route.resource.canonical if route.resource else '?'}")
    return found


async def test_no_handler_parses_the_query_by_hand(db: Pool) -> None:
    modules = _handler_modules(create_app(db))
    assert hooks in modules
    for module, queried in modules.items():
        if module in _PAYLOAD_QUERY:
            assert not queried, f"{module.__name__} declares a query for {queried}: read it with query_of"
            continue
        source = inspect.getsource(module)
        for number, line in enumerate(source.splitlines(), 1):
            assert not _HAND_PARSED.search(line), (
                f"{module.__name__}:{number} parses the query by hand; declare it in the route's QueryModel and "
                f"read it with query_of: {line.strip()}"
            )
