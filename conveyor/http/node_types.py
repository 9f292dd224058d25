"""/node-types: the registry of node kinds, each with the JSON Schema of its fields, and the actions."""

from __future__ import annotations

from aiohttp import web

from conveyor.http.shapes import respond
from conveyor.nodes.actions import ACTIONS, TEMPLATE_PARAMS
from conveyor.nodes.kinds import KINDS

routes = web.RouteTableDef()


@routes.get("/node-types")
async def get_node_types(request: web.Request) -> web.Response:
    """Every node kind with its JSON Schema (from its pydantic model), and every action an action node runs."""
    kinds = [
        {"type": kind.type, "description": (kind.model.__doc__ or "").strip(), "schema": kind.model.model_json_schema()}
        for kind in KINDS
    ]
    actions = [
        {"name": name, "description": (action.__doc__ or "").strip(), "template_param": TEMPLATE_PARAMS.get(name)}
        for name, action in sorted(ACTIONS.items())
    ]
    return respond({"items": kinds, "actions": actions, "next_cursor": None})
