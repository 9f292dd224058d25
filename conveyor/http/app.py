"""Build the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from conveyor.config import Settings
from conveyor.http import emails, events, executions, health, hooks, triggers, workflows
from conveyor.http.errors import error_middleware
from conveyor.http.headers import security_headers
from conveyor.http.keys import POOL, SETTINGS, THROTTLE
from conveyor.http.throttle import Throttle
from conveyor.store import Pool

_MAX_BODY_BYTES = 4 * 1024 * 1024


def create_app(pool: Pool, settings: Settings | None = None) -> web.Application:
    """The API, answering JSON on every route, errors included."""
    app = web.Application(middlewares=[error_middleware], client_max_size=_MAX_BODY_BYTES)
    app.on_response_prepare.append(security_headers)
    app[POOL] = pool
    app[SETTINGS] = settings or Settings()
    app[THROTTLE] = Throttle()
    app.add_routes(workflows.routes)
    app.add_routes(executions.routes)
    app.add_routes(executions.operator_routes)
    app.add_routes(triggers.routes)
    app.add_routes(events.routes)
    app.add_routes(hooks.routes)
    app.add_routes(emails.routes)
    app.add_routes(health.routes)
    return app
