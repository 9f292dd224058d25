"""Build the aiohttp application."""

from __future__ import annotations

import structlog
from aiohttp import web

from conveyor.config import Settings
from conveyor.errors import DatabaseUnavailableError
from conveyor.http import (
    actions,
    api_keys,
    audit,
    dashboard,
    docs,
    drafts,
    emails,
    events,
    executions,
    health,
    hooks,
    live,
    machine,
    node_types,
    recovery,
    secrets,
    session,
    sms,
    tallies,
    templates,
    trends,
    triggers,
    workflows,
)
from conveyor.http.audit import audit_middleware
from conveyor.http.auth import auth_middleware
from conveyor.http.census import Census
from conveyor.http.errors import error_middleware
from conveyor.http.headers import security_headers
from conveyor.http.hub import end_feeds, event_hub
from conveyor.http.key_cache import KeyCache
from conveyor.http.keys import CENSUS, JWT_VERIFIER, KEY_CACHE, POOL, SETTINGS, THROTTLE, VAULT, WAITS
from conveyor.http.origin import origin_middleware
from conveyor.http.parameters import parameters_middleware
from conveyor.http.request_id import echo_request_id, request_id_middleware
from conveyor.http.sso import JwtVerifier
from conveyor.http.throttle import Throttle
from conveyor.http.timing import timing_middleware
from conveyor.http.waits import Waits
from conveyor.nodes.actions import BUILTINS
from conveyor.store import Pool, connection
from conveyor.store.actions import publish_actions
from conveyor.vault import Vault

log = structlog.get_logger(__name__)


def create_app(pool: Pool, settings: Settings | None = None) -> web.Application:
    """The API, answering JSON on every route, errors included."""
    settings = settings or Settings()
    # Outermost first: name the request; time every answer, errors included; turn errors into JSON; refuse text
    # that cannot be stored or compared, then a Host or Origin not this server's; then check the credential and
    # its role; record each change made.
    app = web.Application(
        middlewares=[
            request_id_middleware,
            timing_middleware,
            error_middleware,
            parameters_middleware,
            origin_middleware,
            auth_middleware,
            audit_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    app.on_response_prepare.append(security_headers)
    app.on_response_prepare.append(echo_request_id)
    app[POOL] = pool
    app[SETTINGS] = settings
    app[CENSUS] = Census()
    app[THROTTLE] = Throttle()
    app[WAITS] = Waits(settings.max_waits)
    app[KEY_CACHE] = KeyCache()
    app[JWT_VERIFIER] = JwtVerifier(settings)
    app[VAULT] = Vault(pool, settings)
    app.add_routes(workflows.routes)
    app.add_routes(drafts.routes)
    app.add_routes(executions.routes)
    app.add_routes(executions.operator_routes)
    app.add_routes(triggers.routes)
    app.add_routes(events.routes)
    app.add_routes(hooks.routes)
    app.add_routes(emails.routes)
    app.add_routes(templates.routes)
    app.add_routes(recovery.routes)
    app.add_routes(node_types.routes)
    app.add_routes(actions.routes)
    app.add_routes(health.routes)
    app.add_routes(live.routes)
    app.add_routes(machine.routes)
    app.add_routes(tallies.routes)
    app.add_routes(trends.routes)
    app.add_routes(secrets.routes)
    app.add_routes(api_keys.routes)
    app.add_routes(audit.routes)
    app.add_routes(session.routes)
    app.add_routes(sms.routes)
    app.on_startup.append(learn_secrets)
    app.on_startup.append(publish_builtin_actions)
    app.add_routes(dashboard.routes)
    app.add_routes(docs.routes)
    app.cleanup_ctx.append(event_hub)
    app.on_shutdown.append(end_feeds)
    return app


async def publish_builtin_actions(app: web.Application) -> None:
    """Put conveyor's own actions in the catalog, whether or not a worker has started yet."""
    try:
        async with connection(app[POOL]) as conn:
            await publish_actions(conn, [spec.declared() for spec in BUILTINS])
    except DatabaseUnavailableError as exc:
        log.warning("builtin_actions_not_published", error=exc.message)  # the first worker publishes them


async def learn_secrets(app: web.Application) -> None:
    """Learn every secret value before the first answer, so logs and answers are redacted from the start."""
    await app[VAULT].learn_all()
