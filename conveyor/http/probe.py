"""A worker's own /health and /metrics on CONVEYOR_WORKER_PORT: the steps, claims and triggers a worker process
counts are in its own registry, which no web process can show."""

from __future__ import annotations

from aiohttp import web

from conveyor.config import Settings
from conveyor.http import health
from conveyor.http.auth import auth_middleware
from conveyor.http.census import Census
from conveyor.http.errors import error_middleware
from conveyor.http.keys import CENSUS, POOL, SETTINGS
from conveyor.store import Pool


def probe_app(pool: Pool, settings: Settings) -> web.Application:
    """The health routes and /metrics only, answering JSON errors, /metrics behind its token."""
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[POOL] = pool
    app[SETTINGS] = settings
    app[CENSUS] = Census()
    app.add_routes(health.routes)
    return app
