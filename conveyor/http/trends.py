"""/statistics/minutes: executions started, completed and failed, and step latency, per minute, for charts."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web
from pydantic import Field

from conveyor.http.keys import POOL
from conveyor.http.operation import Count, QueryModel, operation, query_of
from conveyor.http.resources import Answer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond
from conveyor.store import connection
from conveyor.store.trends import Minute, trend
from conveyor.store.workflows import get_workflow

routes = web.RouteTableDef()

MAX_MINUTES = 1440
# The most executions one answer reads: a busier window is charted from its newest this many (`capped`).
CAP = 100_000


class MinutesQuery(QueryModel):
    """The window of GET /statistics/minutes, and the workflow it is about (all when absent)."""

    minutes: Count = Field(default=60, ge=1, le=MAX_MINUTES, description="the last this many minutes, now's included")
    workflow: str | None = Field(default=None, max_length=500, description="a workflow's id or name")


class MinuteAnswer(Answer):
    """One minute: executions started, and of those completed and failed in it; steps that ended in it, and
    their median and 95th percentile durations (null without steps)."""

    minute: datetime
    started: int
    completed: int
    failed: int
    steps: int
    step_p50_ms: float | None
    step_p95_ms: float | None


class MinutesAnswer(Answer):
    """Every minute of the window, oldest first, quiet ones with zeros; `capped` when the window held more than
    `considered` executions and only the newest were read."""

    since: datetime
    minutes: int
    considered: int
    capped: bool
    items: list[MinuteAnswer]


def _dense(since: datetime, count: int, busy: list[Minute]) -> list[MinuteAnswer]:
    by_minute = {m.minute: m for m in busy}
    items = []
    for i in range(count):
        at = since + timedelta(minutes=i)
        found = by_minute.get(at)
        items.append(
            MinuteAnswer.model_validate(found, from_attributes=True)
            if found
            else MinuteAnswer(minute=at, started=0, completed=0, failed=0, steps=0, step_p50_ms=None, step_p95_ms=None)
        )
    return items


@routes.get("/statistics/minutes")
@operation(MinutesAnswer, query=MinutesQuery, errors=(404, 422))
async def get_minutes(request: web.Request) -> web.Response:
    """Per minute of the last ?minutes= (60; at most 1440): executions started, completed and failed, and step
    latency; of one ?workflow= or of all. Reads at most 100,000 executions (the newest of the window)."""
    query = query_of(request, MinutesQuery)
    async with connection(request.app[POOL]) as conn:
        namespace = namespace_of(request)
        workflow_id = (await get_workflow(conn, query.workflow, namespace)).id if query.workflow else None
        found = await trend(conn, query.minutes, CAP, workflow_id, namespace)
    return respond(
        MinutesAnswer(
            since=found.since,
            minutes=query.minutes,
            considered=found.considered,
            capped=found.considered >= CAP,
            items=_dense(found.since, query.minutes, found.minutes),
        )
    )
