"""/workflows/{id}/statistics: how many of a workflow's executions are in each state."""

from __future__ import annotations

from aiohttp import web

from conveyor.http.keys import POOL
from conveyor.http.operation import operation
from conveyor.http.resources import WorkflowStatisticsAnswer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond
from conveyor.store import connection
from conveyor.store.tallies import count_by_state
from conveyor.store.workflows import get_workflow

routes = web.RouteTableDef()


@routes.get("/workflows/{id}/statistics")
@operation(WorkflowStatisticsAnswer, errors=(404,))
async def get_workflow_statistics(request: web.Request) -> web.Response:
    """The workflow's executions per state; states with none are absent."""
    async with connection(request.app[POOL]) as conn:
        workflow = await get_workflow(conn, request.match_info["id"], namespace_of(request))
        counts = await count_by_state(conn, workflow.id)
    return respond(WorkflowStatisticsAnswer(workflow_id=workflow.id, executions_by_state=dict(sorted(counts.items()))))
