"""/drafts and publishing: save a definition as a draft version, check one without saving, publish a draft."""

from __future__ import annotations

from aiohttp import web
from pydantic import PositiveInt

from conveyor.commands.drafts import check_definition, publish, save_draft
from conveyor.http.bodies import json_body, path_int
from conveyor.http.keys import POOL, VAULT
from conveyor.http.operation import operation
from conveyor.http.resources import CheckedAnswer, VersionAnswer, WarningAnswer, WorkflowAnswer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import graph_shape, respond, version_shape, workflow_shape
from conveyor.nodes.kinds import DEFINITION_MODEL
from conveyor.roles import Role

routes = web.RouteTableDef()


@routes.post("/drafts")
@operation(VersionAnswer, status=201, body=DEFINITION_MODEL, errors=(409,), role=Role.EDITOR)
async def post_draft(request: web.Request) -> web.Response:
    """Save a definition as a draft of the workflow it names (validated as a save is; a new workflow, inactive
    until its draft is published, when none has the name); executions keep using the current version."""
    draft = await save_draft(
        request.app[POOL], await json_body(request), request.app[VAULT].environment_names, namespace_of(request)
    )
    return respond(version_shape(draft), status=201)


@routes.post("/definitions/check")
@operation(CheckedAnswer, body=DEFINITION_MODEL)
async def post_check(request: web.Request) -> web.Response:
    """Validate a definition as a save would, storing nothing: 200 with its graph and warnings, or the same 422
    a save would answer (every problem in `details.errors`, each with its JSON pointer)."""
    definition = await check_definition(
        request.app[POOL], await json_body(request), request.app[VAULT].environment_names, namespace_of(request)
    )
    warnings = [
        WarningAnswer(code="literal_credential", message=w.message, field=w.pointer) for w in definition.warnings()
    ]
    return respond(CheckedAnswer(graph=graph_shape(definition), warnings=warnings))


@routes.post("/workflows/{id}/versions/{version}/publish")
@operation(WorkflowAnswer, path={"version": PositiveInt}, errors=(404, 409), role=Role.EDITOR)
async def post_publish(request: web.Request) -> web.Response:
    """Make a draft version the workflow's current one (and the workflow active); 409 for a published version."""
    workflow = await publish(
        request.app[POOL], request.match_info["id"], path_int(request, "version"), namespace_of(request)
    )
    return respond(workflow_shape(workflow))
