"""/workflows: create, version, list and deactivate workflow definitions; start executions."""

from __future__ import annotations

import contextlib

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from conveyor.commands.action_checks import MissingSecret, missing_secrets
from conveyor.commands.operations import create_workflow, deactivate, start_execution, update_workflow, wait_for_end
from conveyor.http.audit import actor_of
from conveyor.http.bodies import json_body, model_body, path_int
from conveyor.http.cursor import PageQuery, name_cursor, page, page_of
from conveyor.http.keys import POOL, SETTINGS, VAULT, WAITS
from conveyor.http.operation import Flag, QueryModel, operation, query_of
from conveyor.http.quotas import check_start_quota
from conveyor.http.resources import (
    BulkAnswer,
    DeactivatedAnswer,
    ExecutionAnswer,
    Page,
    SavedWorkflowAnswer,
    VersionAnswer,
    WorkflowAnswer,
)
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import execution_shape, respond, saved_workflow_shape, version_shape, workflow_shape
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.kinds import DEFINITION_MODEL, load_definition
from conveyor.roles import Role
from conveyor.store import connection
from conveyor.store.workflows import Workflow, get_version, get_workflow, list_versions, list_workflows

routes = web.RouteTableDef()


class StartExecution(BaseModel):
    """The body of POST /workflows/{id}/executions."""

    model_config = ConfigDict(extra="forbid")

    input: JSONObject = {}
    dedupe_key: str | None = Field(default=None, min_length=1, max_length=500)
    wait: float | None = Field(default=None, ge=0, le=300)
    # Which due executions a worker takes first, aged by waiting (conveyor/store/claims.py).
    priority: int = Field(default=0, ge=-10, le=10, strict=True)


class DeactivateQuery(QueryModel):
    """The options of DELETE /workflows/{id}."""

    cancel_running: Flag = Field(default=False, description="cancel the executions that have not ended")


@routes.post("/workflows")
@operation(SavedWorkflowAnswer, status=201, body=DEFINITION_MODEL, role=Role.EDITOR)
async def post_workflow(request: web.Request) -> web.Response:
    """Create a workflow from a definition; 422 names what is wrong with it, `warnings` what should change."""
    workflow = await create_workflow(
        request.app[POOL], await json_body(request), request.app[VAULT].environment_names, namespace_of(request)
    )
    return respond(saved_workflow_shape(workflow, await _missing_secrets(request, workflow)), status=201)


@routes.get("/workflows")
@operation(Page[WorkflowAnswer], query=PageQuery, errors=(422,))
async def get_workflows(request: web.Request) -> web.Response:
    """Workflows in name order, a page at a time."""
    limit = query_of(request, PageQuery).limit
    after = name_cursor(request)
    async with connection(request.app[POOL]) as conn:
        workflows = await list_workflows(conn, namespace_of(request), after, limit + 1)
    return respond(page_of(workflows, limit, workflow_shape, lambda w: (w.name,)))


@routes.get("/workflows/{id}")
@operation(WorkflowAnswer, errors=(404,))
async def get_workflow_by_id(request: web.Request) -> web.Response:
    """One workflow, by id or name."""
    async with connection(request.app[POOL]) as conn:
        workflow = await get_workflow(conn, request.match_info["id"], namespace_of(request))
    return respond(workflow_shape(workflow))


@routes.put("/workflows/{id}")
@operation(SavedWorkflowAnswer, body=DEFINITION_MODEL, errors=(404,), role=Role.EDITOR)
async def put_workflow(request: web.Request) -> web.Response:
    """Store a new version of a workflow, validated as at creation (with its `warnings`); running executions
    keep theirs."""
    workflow = await update_workflow(
        request.app[POOL],
        request.match_info["id"],
        await json_body(request),
        request.app[VAULT].environment_names,
        namespace_of(request),
    )
    return respond(saved_workflow_shape(workflow, await _missing_secrets(request, workflow)))


async def _missing_secrets(request: web.Request, workflow: Workflow) -> list[MissingSecret]:
    """The secrets the saved definition's actions declare that do not exist: a warning, not a refusal."""
    async with connection(request.app[POOL]) as conn:
        definition = load_definition(workflow.definition)
        return await missing_secrets(conn, definition, request.app[VAULT].environment_names, workflow.namespace)


@routes.delete("/workflows/{id}")
@operation(DeactivatedAnswer, query=DeactivateQuery, errors=(404, 409, 422), role=Role.EDITOR)
async def delete_workflow(request: web.Request) -> web.Response:
    """Deactivate a workflow; 409 while executions have not ended, unless ?cancel_running=true cancels them."""
    cancel_running = query_of(request, DeactivateQuery).cancel_running
    workflow, cancelled = await deactivate(
        request.app[POOL],
        request.match_info["id"],
        cancel_running=cancel_running,
        actor=actor_of(request),
        namespace=namespace_of(request),
    )
    outcome = BulkAnswer.model_validate(cancelled.as_json()) if cancelled else None
    return respond(DeactivatedAnswer(**workflow_shape(workflow).model_dump(), cancelled=outcome))


@routes.get("/workflows/{id}/versions")
@operation(Page[VersionAnswer], errors=(404,))
async def get_versions(request: web.Request) -> web.Response:
    """Every version of a workflow, newest first."""
    async with connection(request.app[POOL]) as conn:
        workflow = await get_workflow(conn, request.match_info["id"], namespace_of(request))
        versions = await list_versions(conn, workflow.id)
    return respond(page([version_shape(v) for v in versions], None))


@routes.get("/workflows/{id}/versions/{version}")
@operation(VersionAnswer, path={"version": PositiveInt}, errors=(404,))
async def get_one_version(request: web.Request) -> web.Response:
    """One version of a workflow."""
    number = path_int(request, "version")
    async with connection(request.app[POOL]) as conn:
        workflow = await get_workflow(conn, request.match_info["id"], namespace_of(request))
        version = await get_version(conn, workflow.id, number)
    return respond(version_shape(version))


@routes.post("/workflows/{id}/executions")
@operation(
    ExecutionAnswer,
    status=201,
    also={200: ExecutionAnswer},
    body=StartExecution,
    errors=(404, 409, 429),
    role=Role.OPERATOR,
)
async def post_execution(request: web.Request) -> web.Response:
    """Start an execution; with `wait`, answer when it ends or the wait is over (429 when too many wait already,
    or the namespace is at a quota)."""
    body = await model_body(request, StartExecution)
    pool = request.app[POOL]
    await check_start_quota(pool, namespace_of(request), request.app[SETTINGS])
    # A place among the waiters is taken first: when none is free, nothing has started.
    with request.app[WAITS].held() if body.wait else contextlib.nullcontext():
        execution, created = await start_execution(
            pool, request.match_info["id"], body.input, body.dedupe_key, namespace_of(request), priority=body.priority
        )
        if body.wait:
            execution = await wait_for_end(pool, execution.id, body.wait)
    return respond(execution_shape(execution), status=201 if created else 200)
