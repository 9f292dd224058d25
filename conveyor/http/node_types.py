"""/node-types: the registry of node kinds, each with the JSON Schema of its fields, and the actions."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from conveyor.graph import edge_fields
from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import BUILTINS
from conveyor.nodes.kinds import KINDS

routes = web.RouteTableDef()


class NodeTypeAnswer(Answer):
    """A node kind, the JSON Schema of its fields, and the fields it leads on to other nodes by (`edges`, in the
    order its `edges()` declares them)."""

    type: str
    description: str
    schema_: JSONObject = Field(alias="schema")
    edges: list[str]


class ActionAnswer(Answer):
    """A built-in action; `template_param` names the parameter that must name a stored template. GET /actions
    lists every action, the team's own too."""

    name: str
    description: str
    template_param: str | None


class NodeTypesAnswer(Answer):
    """Every node kind, and the built-in actions."""

    items: list[NodeTypeAnswer]
    actions: list[ActionAnswer]
    next_cursor: str | None = None


@routes.get("/node-types")
@operation(NodeTypesAnswer, database=False)
async def get_node_types(request: web.Request) -> web.Response:
    """Every node kind with its JSON Schema (from its pydantic model), and the built-in actions."""
    kinds = [
        NodeTypeAnswer(
            type=kind.type,
            description=(kind.model.__doc__ or "").strip(),
            schema_=kind.model.model_json_schema(),
            edges=edge_fields(kind.model),
        )
        for kind in KINDS
    ]
    actions = [
        ActionAnswer(name=spec.key, description=spec.description, template_param=spec.template_param)
        for spec in BUILTINS
    ]
    return respond(NodeTypesAnswer(items=kinds, actions=actions))
