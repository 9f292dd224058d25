"""/health and /metrics: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from conveyor.engine.metrics import TRIGGER_LAG
from conveyor.errors import DatabaseUnavailableError
from conveyor.http.keys import POOL, SETTINGS
from conveyor.http.shapes import respond
from conveyor.store import connection
from conveyor.store.schema import ping
from conveyor.store.triggers import pending_lags
from conveyor.store.workers import count_live_workers

routes = web.RouteTableDef()

_READY_TIMEOUT_SECONDS = 2.0


@routes.get("/health/live")
async def live(request: web.Request) -> web.Response:
    """The process answers."""
    return respond({"status": "ok"})


@routes.get("/health/ready")
@routes.get("/health")
async def ready(request: web.Request) -> web.Response:
    """The database answers too; 503 when it does not."""
    try:
        async with asyncio.timeout(_READY_TIMEOUT_SECONDS), connection(request.app[POOL]) as conn:
            await ping(conn)
            # A worker renews its heartbeat with its leases, a few times per lease period.
            workers = await count_live_workers(conn, 2 * request.app[SETTINGS].lease_seconds)
    except Exception as exc:  # noqa: BLE001 - whatever the failure, the answer is "not ready"
        return respond({"status": "unavailable", "database": f"{type(exc).__name__}: {exc}"}, status=503)
    return respond({"status": "ok", "database": "ok", "live_workers": workers})


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition; the inbox's lag is read from the database at each scrape."""
    try:
        async with connection(request.app[POOL]) as conn:
            lags = await pending_lags(conn)
    except DatabaseUnavailableError:
        lags = None  # the process's own metrics are still worth answering with
    if lags is not None:
        TRIGGER_LAG.clear()
        for trigger_id, lag in lags.items():
            TRIGGER_LAG.labels(trigger=str(trigger_id)).set(lag)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
