"""/triggers: create, list, read, change, switch, delete and preview triggers."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

from aiohttp import web
from pydantic import Field

from conveyor.commands.triggers import (
    create_trigger,
    patch_trigger,
    preview_trigger,
    remove_trigger,
    switch_trigger,
)
from conveyor.http.bodies import json_body, path_uuid
from conveyor.http.cursor import PageQuery, created_cursor, encode_cursor, id_cursor, page_of
from conveyor.http.keys import POOL, SETTINGS
from conveyor.http.operation import Count, QueryModel, operation, query_of
from conveyor.http.resources import Answer, Page, TriggerAnswer, TriggerRowAnswer
from conveyor.http.scoping import namespace_of, owned_trigger
from conveyor.http.shapes import respond, trigger_shape
from conveyor.jsonvalue import JSONObject
from conveyor.roles import Role
from conveyor.schedule import MAX_TICKS
from conveyor.store import connection
from conveyor.store.trigger_rows import NO_CURSOR, Outcome, list_trigger_rows
from conveyor.store.triggers import list_triggers
from conveyor.triggers.kinds import TRIGGER_DEFINITION

routes = web.RouteTableDef()


class TriggerQuery(PageQuery):
    """The filter and page of GET /triggers."""

    workflow: uuid.UUID | None = Field(default=None, description="the workflow's id")


class PreviewQuery(QueryModel):
    """How many fires GET /triggers/{id}/preview lists."""

    count: Count = Field(default=10, ge=1, le=MAX_TICKS)


class TriggerRowsQuery(PageQuery):
    """The filter and page of GET /triggers/{id}/rows."""

    outcome: Outcome | None = Field(default=None, description="only rows consumed with this outcome")
    reason: str | None = Field(
        default=None, min_length=1, max_length=200, description="only rows whose reason contains this text"
    )


class FireAnswer(Answer):
    """One coming fire of a schedule: in UTC, and on the schedule's wall clock."""

    at: datetime
    local: datetime


_ID = {"id": uuid.UUID}


async def _owned(request: web.Request) -> None:
    """404 unless the trigger the path names is in the caller's namespace."""
    async with connection(request.app[POOL]) as conn:
        await owned_trigger(conn, request)


@routes.post("/workflows/{id}/triggers")
@operation(TriggerAnswer, status=201, body=TRIGGER_DEFINITION, errors=(404, 409), role=Role.EDITOR)
async def post_trigger(request: web.Request) -> web.Response:
    """Attach a trigger to a workflow; 422 names what is wrong with it."""
    allow_hosts = request.app[SETTINGS].webhook_allow_hosts
    trigger = await create_trigger(
        request.app[POOL], request.match_info["id"], await json_body(request), allow_hosts, namespace_of(request)
    )
    return respond(trigger_shape(trigger), status=201)


@routes.get("/triggers")
@operation(Page[TriggerAnswer], query=TriggerQuery, errors=(422,))
async def get_triggers(request: web.Request) -> web.Response:
    """Triggers in creation order, optionally of one workflow (?workflow=), a page at a time (?cursor=)."""
    query = query_of(request, TriggerQuery)
    after = created_cursor(request)
    async with connection(request.app[POOL]) as conn:
        triggers = await list_triggers(conn, namespace_of(request), query.workflow, after, query.limit + 1)
    return respond(page_of(triggers, query.limit, trigger_shape, lambda t: (t.created_at.isoformat(), str(t.id))))


@routes.get("/triggers/{id}")
@operation(TriggerAnswer, path=_ID, errors=(404,))
async def get_one(request: web.Request) -> web.Response:
    """One trigger with its health."""
    async with connection(request.app[POOL]) as conn:
        trigger = await owned_trigger(conn, request)
    return respond(trigger_shape(trigger))


@routes.patch("/triggers/{id}")
@operation(TriggerAnswer, path=_ID, body=JSONObject, errors=(404, 409), role=Role.EDITOR)
async def patch_one(request: web.Request) -> web.Response:
    """Change a trigger with a JSON merge patch of its definition; the result is validated as a new one."""
    allow_hosts = request.app[SETTINGS].webhook_allow_hosts
    await _owned(request)
    trigger = await patch_trigger(request.app[POOL], path_uuid(request), await json_body(request), allow_hosts)
    return respond(trigger_shape(trigger))


@routes.delete("/triggers/{id}")
@operation(None, status=204, path=_ID, errors=(404,), role=Role.EDITOR)
async def delete_one(request: web.Request) -> web.Response:
    """Delete a trigger; its executions stay, its pending rows are consumed as 'disabled'."""
    await _owned(request)
    await remove_trigger(request.app[POOL], path_uuid(request))
    return web.Response(status=204)


@routes.post("/triggers/{id}/enable")
@operation(TriggerAnswer, path=_ID, errors=(404, 409), role=Role.EDITOR)
async def enable(request: web.Request) -> web.Response:
    """Enable a trigger; a schedule is next due at its first tick from now."""
    await _owned(request)
    return respond(trigger_shape(await switch_trigger(request.app[POOL], path_uuid(request), enabled=True)))


@routes.post("/triggers/{id}/disable")
@operation(TriggerAnswer, path=_ID, errors=(404,), role=Role.EDITOR)
async def disable(request: web.Request) -> web.Response:
    """Disable a trigger: it starts nothing; its rows (waiting ones, and an event trigger's new ones) are
    consumed as 'disabled'. A schedule stops firing, a poll stops polling, a webhook answers 404."""
    await _owned(request)
    return respond(trigger_shape(await switch_trigger(request.app[POOL], path_uuid(request), enabled=False)))


@routes.get("/triggers/{id}/preview")
@operation(Page[FireAnswer], path=_ID, query=PreviewQuery, errors=(404, 409, 422))
async def get_preview(request: web.Request) -> web.Response:
    """The next ?count= fires of a schedule (at most 500): each in UTC and on the schedule's wall clock."""
    count = query_of(request, PreviewQuery).count
    await _owned(request)
    fires = await preview_trigger(request.app[POOL], path_uuid(request), count)
    return respond(Page(items=[FireAnswer(at=at, local=local) for at, local in fires]))


@routes.get("/triggers/{id}/rows")
@operation(Page[TriggerRowAnswer], path=_ID, query=TriggerRowsQuery, errors=(404, 422))
async def get_rows(request: web.Request) -> web.Response:
    """The trigger's inbox rows, newest first, each with its outcome and reason (?outcome=, ?reason=, ?limit=,
    ?cursor=)."""
    trigger_id = path_uuid(request)
    query = query_of(request, TriggerRowsQuery)
    limit = query.limit
    before = id_cursor(request) or NO_CURSOR
    async with connection(request.app[POOL]) as conn:
        await owned_trigger(conn, request)  # 404 for an unknown trigger, not an empty page
        rows = await list_trigger_rows(conn, trigger_id, query.outcome, query.reason, before, limit + 1)
    items = [TriggerRowAnswer(**dataclasses.asdict(r)) for r in rows[:limit]]
    next_cursor = encode_cursor(str(items[-1].id)) if len(rows) > limit else None
    return respond(Page(items=items, next_cursor=next_cursor))
