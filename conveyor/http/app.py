"""Build the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from conveyor.config import Settings
from conveyor.http import emails, executions, health, live, workflows
from conveyor.http.errors import error_middleware
from conveyor.http.hub import end_feeds, event_hub
from conveyor.http.keys import POOL, SETTINGS
from conveyor.store import Pool

_MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(pool: Pool, settings: Settings | None = None) -> web.Application:
    """The API, answering JSON on every route, errors included."""
    app = web.Application(middlewares=[error_middleware], client_max_size=_MAX_BODY_BYTES)
    app[POOL] = pool
    app[SETTINGS] = settings or Settings()
    app.add_routes(workflows.routes)
    app.add_routes(executions.routes)
    app.add_routes(executions.operator_routes)
    app.add_routes(emails.routes)
    app.add_routes(health.routes)
    app.add_routes(live.routes)
    app.cleanup_ctx.append(event_hub)
    app.on_shutdown.append(end_feeds)
    return app
