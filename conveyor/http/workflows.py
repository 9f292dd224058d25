"""/workflows: create and read workflow definitions; start executions."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.engine.operations import create_workflow, start_execution, wait_for_end
from conveyor.http.bodies import json_body, model_body
from conveyor.http.keys import POOL
from conveyor.http.shapes import execution_shape, respond, workflow_shape
from conveyor.jsonvalue import JSONObject
from conveyor.store import connection
from conveyor.store.workflows import get_workflow

routes = web.RouteTableDef()


class StartExecution(BaseModel):
    """The body of POST /workflows/{id}/executions."""

    model_config = ConfigDict(extra="forbid")

    input: JSONObject = {}
    dedupe_key: str | None = Field(default=None, min_length=1, max_length=500)
    wait: float | None = Field(default=None, ge=0, le=300)


@routes.post("/workflows")
async def post_workflow(request: web.Request) -> web.Response:
    """Create a workflow from a definition; 422 names what is wrong with it."""
    workflow = await create_workflow(request.app[POOL], await json_body(request))
    return respond(workflow_shape(workflow), status=201)


@routes.get("/workflows/{id}")
async def get_workflow_by_id(request: web.Request) -> web.Response:
    """One workflow, by id or name."""
    async with connection(request.app[POOL]) as conn:
        workflow = await get_workflow(conn, request.match_info["id"])
    return respond(workflow_shape(workflow))


@routes.post("/workflows/{id}/executions")
async def post_execution(request: web.Request) -> web.Response:
    """Start an execution; with `wait`, answer when it ends or the wait is over."""
    body = await model_body(request, StartExecution)
    pool = request.app[POOL]
    execution, created = await start_execution(pool, request.match_info["id"], body.input, body.dedupe_key)
    if body.wait:
        execution = await wait_for_end(pool, execution.id, body.wait)
    return respond(execution_shape(execution), status=201 if created else 200)
