"""/executions: find and read executions, their history, steps and webhook calls; pause, resume, cancel, retry."""

from __future__ import annotations

import uuid
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.commands.bulk import bulk_operate
from conveyor.commands.operations import operate
from conveyor.definitions import NodeId
from conveyor.errors import NotFoundError
from conveyor.http.audit import actor_of
from conveyor.http.bodies import model_body, path_uuid
from conveyor.http.cursor import PageQuery, created_cursor, id_cursor, page, page_of
from conveyor.http.keys import POOL
from conveyor.http.operation import operation, query_of
from conveyor.http.resources import BulkAnswer, ExecutionAnswer, HistoryAnswer, Page, StepAnswer, WebhookCallAnswer
from conveyor.http.scoping import namespace_of, owned_execution
from conveyor.http.selection import SelectionBody, SelectionQuery
from conveyor.http.shapes import execution_shape, history_shape, respond, step_shape, webhook_call_shape
from conveyor.http.waiting import waiting_of
from conveyor.roles import Role
from conveyor.statemachines import OPERATOR_VERBS
from conveyor.store import connection
from conveyor.store.claims import slot_waits
from conveyor.store.history import list_history, list_steps
from conveyor.store.selection import list_executions
from conveyor.store.webhooks import list_webhook_calls

routes = web.RouteTableDef()

BulkEvent = Annotated[str, Field(json_schema_extra={"enum": list(OPERATOR_VERBS)})]


class ExecutionQuery(SelectionQuery, PageQuery):
    """The filters and page of GET /executions."""


@routes.get("/executions")
@operation(Page[ExecutionAnswer], query=ExecutionQuery, errors=(422,))
async def get_many(request: web.Request) -> web.Response:
    """Executions newest first, filtered by workflow, state, creation time and parent, a page at a time."""
    query = query_of(request, ExecutionQuery)
    limit = query.limit
    after = created_cursor(request)
    async with connection(request.app[POOL]) as conn:
        selection = await query.selection(conn, namespace_of(request))
        found = await list_executions(conn, selection, after, limit + 1)
        waits = await slot_waits(conn, [e.id for e in found[:limit]])
    shown = found[:limit]
    last = shown[-1] if len(found) > limit else None
    return respond(
        page(
            [execution_shape(e, waits.get(e.id)) for e in shown],
            (last.created_at.isoformat(), str(last.id)) if last else None,
        )
    )


@routes.get("/executions/{id}")
@operation(ExecutionAnswer, path={"id": uuid.UUID}, errors=(404,))
async def get_one(request: web.Request) -> web.Response:
    """One execution."""
    async with connection(request.app[POOL]) as conn:
        execution = await owned_execution(conn, request)
        slot = (await slot_waits(conn, [execution.id])).get(execution.id)
        rest = await waiting_of(conn, execution, slot)
    return respond(execution_shape(execution, slot, rest))


@routes.get("/executions/{id}/history")
@operation(Page[HistoryAnswer], path={"id": uuid.UUID}, errors=(404,))
async def get_history(request: web.Request) -> web.Response:
    """Every transition of an execution, oldest first."""
    execution_id = path_uuid(request)
    async with connection(request.app[POOL]) as conn:
        await owned_execution(conn, request)
        entries = await list_history(conn, execution_id)
    return respond(page([history_shape(h) for h in entries], None))


@routes.get("/executions/{id}/steps")
@operation(Page[StepAnswer], path={"id": uuid.UUID}, errors=(404,))
async def get_steps(request: web.Request) -> web.Response:
    """Every step attempt of an execution, oldest first."""
    execution_id = path_uuid(request)
    async with connection(request.app[POOL]) as conn:
        await owned_execution(conn, request)
        steps = await list_steps(conn, execution_id)
    return respond(page([step_shape(s) for s in steps], None))


@routes.get("/executions/{id}/webhooks")
@operation(Page[WebhookCallAnswer], path={"id": uuid.UUID}, query=PageQuery, errors=(404, 422))
async def get_webhook_calls(request: web.Request) -> web.Response:
    """An execution's webhook call attempts, oldest first, a page at a time."""
    execution_id = path_uuid(request)
    limit = query_of(request, PageQuery).limit
    after = id_cursor(request)
    async with connection(request.app[POOL]) as conn:
        await owned_execution(conn, request)
        found = await list_webhook_calls(conn, execution_id, after, limit + 1)
    return respond(page_of(found, limit, webhook_call_shape, lambda c: (str(c.id),)))


async def _owned(request: web.Request) -> None:
    """404 unless the execution the path names is in the caller's namespace."""
    async with connection(request.app[POOL]) as conn:
        await owned_execution(conn, request)


def _operator(event: str) -> web.RouteDef:
    async def handler(request: web.Request) -> web.Response:
        await _owned(request)
        execution = await operate(request.app[POOL], path_uuid(request), event, actor=actor_of(request))
        return respond(execution_shape(execution))

    handler.__doc__ = f"{event.capitalize()} an execution; 409 when its state does not allow it."
    declared = operation(ExecutionAnswer, path={"id": uuid.UUID}, errors=(404, 409), role=Role.OPERATOR)(handler)
    return web.post(f"/executions/{{id}}/{event}", declared)


class RetryBody(BaseModel):
    """The optional body of POST /executions/{id}/retry."""

    model_config = ConfigDict(extra="forbid")

    from_node: NodeId | None = None


@operation(
    ExecutionAnswer, path={"id": uuid.UUID}, body=RetryBody, body_required=False, errors=(404, 409), role=Role.OPERATOR
)
async def retry(request: web.Request) -> web.Response:
    """Retry a failed execution's failed step; with `from_node`, run a failed or completed one again from there."""
    from_node = (await model_body(request, RetryBody)).from_node if request.body_exists else None
    await _owned(request)
    execution = await operate(
        request.app[POOL], path_uuid(request), "retry", from_node=from_node, actor=actor_of(request)
    )
    return respond(execution_shape(execution))


operator_routes = [
    web.post("/executions/{id}/retry", retry) if event == "retry" else _operator(event) for event in OPERATOR_VERBS
]


class BulkBody(SelectionBody):
    """The body of POST /executions/bulk/{event}: which executions, and whether only to count."""

    dry_run: bool = False


@routes.post("/executions/bulk/{event}")
@operation(BulkAnswer, path={"event": BulkEvent}, body=BulkBody, errors=(404,), role=Role.OPERATOR)
async def bulk(request: web.Request) -> web.Response:
    """Pause, resume, cancel or retry every selected execution its state allows; count changed and skipped."""
    event = request.match_info["event"]
    if event not in OPERATOR_VERBS:
        raise NotFoundError(f"no bulk operation {event[:50]!r}; known: {', '.join(OPERATOR_VERBS)}", field="event")
    body = await model_body(request, BulkBody)
    pool = request.app[POOL]
    async with connection(pool) as conn:
        selection = await body.selection(conn, namespace_of(request))
    outcome = await bulk_operate(pool, event, selection, dry_run=body.dry_run, actor=actor_of(request))
    return respond(BulkAnswer.model_validate(outcome.as_json()))
