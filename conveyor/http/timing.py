"""How long each route takes to answer, as a Prometheus histogram."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import Histogram

from conveyor.http.errors import Handler

REQUEST_SECONDS = Histogram(
    "conveyor_http_request_seconds", "Time to answer an HTTP request, by route", ["method", "route", "status"]
)
# Any other method is counted as "other": a client must not be able to mint label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route(request: web.Request) -> str:
    """The route's pattern (`/executions/{id}`), never the raw URL, so ids do not become labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Observe every request's duration under its route's pattern."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        method = request.method if request.method in _METHODS else "other"
        REQUEST_SECONDS.labels(method, _route(request), str(status)).observe(time.perf_counter() - started)
