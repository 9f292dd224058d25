"""/health and /metrics: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field

from conveyor.config import Settings
from conveyor.engine.metrics import TRIGGER_LAG
from conveyor.engine.recovery import OVERDUE_GRACE_SECONDS, silence_limit_seconds
from conveyor.errors import DatabaseUnavailableError
from conveyor.http.keys import CENSUS, POOL, SETTINGS
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.store import connection
from conveyor.store.recovery import backlog
from conveyor.store.routing import waiting_for_workers
from conveyor.store.schema import ping
from conveyor.store.triggers import pending_lags
from conveyor.store.workers import count_live_workers

routes = web.RouteTableDef()

_READY_TIMEOUT_SECONDS = 2.0
_PROMETHEUS = CONTENT_TYPE_LATEST.split(";")[0]


class Live(Answer):
    """The process answers."""

    status: str


class Readiness(Answer):
    """Whether this process can serve: the database, the claim loop's lag, workers and the inbox."""

    status: str = Field(
        description="ok; degraded (with `reasons`) when no worker is alive or claims lag; or unavailable (503)"
    )
    reasons: list[str] = Field(default_factory=list, description="why the status is degraded, each naming its setting")
    database: str = Field(description="ok, or why the database did not answer")
    database_round_trip_ms: float | None = None
    claim_lag_seconds: float | None = Field(default=None, description="since the oldest due, unclaimed wake-up")
    live_workers: int | None = None
    pending_inbox_rows: int | None = None
    waiting_for_worker: dict[str, int] | None = Field(
        default=None, description="executions whose next step's action no live worker provides, by action"
    )


@routes.get("/health/live")
@operation(Live, public=True, database=False)
async def live(request: web.Request) -> web.Response:
    """The process answers."""
    return respond(Live(status="ok"))


@routes.get("/health/ready")
@routes.get("/health")
@operation(Readiness, also={503: Readiness}, public=True, database=False)
async def ready(request: web.Request) -> web.Response:
    """The database answers (and how fast), the claim loop's lag, live workers, the inbox; 503 when not ready."""
    try:
        async with asyncio.timeout(_READY_TIMEOUT_SECONDS), connection(request.app[POOL]) as conn:
            started = time.perf_counter()
            await ping(conn)
            round_trip_ms = (time.perf_counter() - started) * 1000
            workers = await count_live_workers(conn, silence_limit_seconds(request.app[SETTINGS].lease_seconds))
            behind = await backlog(conn, OVERDUE_GRACE_SECONDS)
            waiting = await waiting_for_workers(conn)
    except Exception as exc:  # noqa: BLE001 - whatever the failure, the answer is "not ready"
        return respond(Readiness(status="unavailable", database=f"{type(exc).__name__}: {exc}"), status=503)
    reasons = _degraded(workers, behind.worst_lateness_seconds, request.app[SETTINGS])
    return respond(
        Readiness(
            status="degraded" if reasons else "ok",
            reasons=reasons,
            database="ok",
            database_round_trip_ms=round(round_trip_ms, 3),
            # Since the oldest due wake-up no worker has claimed: how far the claim loop is behind.
            claim_lag_seconds=behind.worst_lateness_seconds,
            live_workers=workers,
            pending_inbox_rows=behind.pending_events,
            waiting_for_worker=waiting,
        )
    )


def _degraded(live_workers: int, claim_lag_seconds: float | None, settings: Settings) -> list[str]:
    """Why the service, though it answers, is not doing its work: nobody claims, or claims come too late."""
    reasons = []
    if live_workers == 0:
        reasons.append("no live worker: start `conveyor worker` (or run `conveyor serve`) against this database")
    limit = settings.health_claim_lag.total_seconds()
    if claim_lag_seconds is not None and claim_lag_seconds > limit:
        reasons.append(
            f"due work has waited {claim_lag_seconds:.1f} s to be claimed, past CONVEYOR_HEALTH_CLAIM_LAG "
            f"({limit:g} s): add workers or raise CONVEYOR_CONCURRENCY"
        )
    return reasons


@routes.get("/metrics")
@operation(media=_PROMETHEUS, database=False)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition: executions by workflow and state from a count a few seconds old at most, and the
    inbox's lag per trigger, read at each scrape."""
    await request.app[CENSUS].refresh(request.app[POOL])
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
