"""/recovery: release what gone workers held, now; and the figures that tell whether recovery is needed."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.engine.recovery import OVERDUE_GRACE_SECONDS, recover, silence_limit_seconds
from conveyor.http.bodies import model_body
from conveyor.http.keys import POOL, SETTINGS
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.roles import Role
from conveyor.store import connection
from conveyor.store.recovery import backlog, count_by_workflow_and_state, live_workers

routes = web.RouteTableDef()

# The answer lists at most this many ids; the counts are always whole.
_MAX_IDS = 1000


class RecoverBody(BaseModel):
    """The optional body of POST /recovery/recover."""

    model_config = ConfigDict(extra="forbid")

    worker: str | None = Field(default=None, min_length=1, max_length=500)
    older_than: float | None = Field(default=None, gt=0, le=365 * 24 * 3600)


class Recovered(Answer):
    """What a recovery handed back: counts whole, ids capped."""

    total: int
    by_state: dict[str, int]
    by_worker: dict[str, int]
    ids: list[uuid.UUID]
    ids_truncated: bool


class RecoverAnswer(Answer):
    """The answer of POST /recovery/recover."""

    recovered: Recovered
    silent_seconds: float


class OverdueWakeups(Answer):
    """Due and unclaimed for longer than the grace."""

    count: int
    grace_seconds: float
    worst_lateness_seconds: float


class InboxBacklog(Answer):
    """Trigger rows not yet consumed."""

    pending: int
    oldest_pending_at: datetime | None


class WorkerAnswer(Answer):
    """A live worker."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    last_heartbeat_at: datetime
    in_flight: int


class RecoveryStatistics(Answer):
    """Whether recovery is needed: executions per state, lapsed leases, overdue wake-ups, inbox, workers."""

    executions_by_state: dict[str, int]
    lapsed_leases: int
    overdue_wakeups: OverdueWakeups
    inbox: InboxBacklog
    live_workers: list[WorkerAnswer]


@routes.post("/recovery/recover")
@operation(RecoverAnswer, body=RecoverBody, body_required=False, role=Role.OPERATOR)
async def post_recover(request: web.Request) -> web.Response:
    """Hand back now what workers silent for `older_than` seconds (two leases) held, and lapsed leases."""
    body = await model_body(request, RecoverBody) if request.body_exists else RecoverBody()
    silent = body.older_than or silence_limit_seconds(request.app[SETTINGS].lease_seconds)
    released = await recover(request.app[POOL], silent, body.worker)
    return respond(
        RecoverAnswer.model_validate(
            {
                "recovered": {
                    "total": len(released),
                    "by_state": dict(Counter(r.state for r in released)),
                    "by_worker": dict(Counter(r.lease_owner for r in released)),
                    "ids": [r.id for r in released[:_MAX_IDS]],
                    "ids_truncated": len(released) > _MAX_IDS,
                },
                "silent_seconds": silent,
            }
        )
    )


@routes.get("/recovery/statistics")
@operation(RecoveryStatistics)
async def get_statistics(request: web.Request) -> web.Response:
    """Executions per state, lapsed leases, overdue wake-ups, the inbox's oldest row, and live workers."""
    silent = silence_limit_seconds(request.app[SETTINGS].lease_seconds)
    async with connection(request.app[POOL]) as conn:
        counts = await count_by_workflow_and_state(conn)
        behind = await backlog(conn, OVERDUE_GRACE_SECONDS)
        workers = await live_workers(conn, silent)
    by_state: Counter[str] = Counter()
    for (_, state), n in counts.items():
        by_state[state] += n
    return respond(
        RecoveryStatistics.model_validate(
            {
                "executions_by_state": dict(sorted(by_state.items())),
                "lapsed_leases": behind.lapsed_leases,
                "overdue_wakeups": {
                    "count": behind.overdue,
                    "grace_seconds": OVERDUE_GRACE_SECONDS,
                    "worst_lateness_seconds": behind.worst_lateness_seconds,
                },
                "inbox": {"pending": behind.pending_events, "oldest_pending_at": behind.oldest_pending_event_at},
                "live_workers": [
                    {
                        "id": w.id,
                        "hostname": w.hostname,
                        "pid": w.pid,
                        "started_at": w.started_at,
                        "last_heartbeat_at": w.heartbeat_at,
                        "in_flight": w.in_flight,
                    }
                    for w in workers
                ],
            }
        )
    )
