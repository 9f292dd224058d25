"""/node-types: the registry of node kinds, each with the JSON Schema of its fields, and the actions."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from conveyor.http.operation import operation
from conveyor.http.resources import Answer
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import ACTIONS
from conveyor.nodes.kinds import KINDS

routes = web.RouteTableDef()


class NodeTypeAnswer(Answer):
    """A node kind and the JSON Schema of its fields."""

    type: str
    description: str
    schema_: JSONObject = Field(alias="schema")


class ActionAnswer(Answer):
    """An action an action node runs; `template_param` names the parameter that must name a stored template,
    `credentials` the parameters it sends as credentials (the only ones a `{{ secrets.NAME }}` may be in)."""

    name: str
    description: str
    template_param: str | None
    credentials: list[str]


class NodeTypesAnswer(Answer):
    """Every node kind, and every action."""

    items: list[NodeTypeAnswer]
    actions: list[ActionAnswer]
    next_cursor: str | None = None


@routes.get("/node-types")
@operation(NodeTypesAnswer, database=False)
async def get_node_types(request: web.Request) -> web.Response:
    """Every node kind with its JSON Schema (from its pydantic model), and every action an action node runs."""
    kinds = [
        NodeTypeAnswer(
            type=kind.type, description=(kind.model.__doc__ or "").strip(), schema_=kind.model.model_json_schema()
        )
        for kind in KINDS
    ]
    actions = [
        ActionAnswer(
            name=name,
            description=action.description,
            template_param=action.template_param,
            credentials=list(action.credentials),
        )
        for name, action in sorted(ACTIONS.items())
    ]
    return respond(NodeTypesAnswer(items=kinds, actions=actions))
