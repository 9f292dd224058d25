"""A definition as a graph to draw: each edge from its node kind's own `edges()`, its kind the field holding it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from conveyor.definitions import NODE_ID_PATTERN, NodeModel, WorkflowDefinition

# An edge's field, as `edges()` names it: a plain field (`on_timeout`), or one place of a list field
# (`branches/0`), whose kind is the list's name.
_FIELD = re.compile(r"[A-Za-z_]+")
_PROBE = "probe"


@dataclass(frozen=True, slots=True)
class Edge:
    """One outgoing edge of a node: where it leads, and the field of the node that holds it."""

    source: str
    target: str
    kind: str


def edge_kind(field: str) -> str:
    """The kind of the edge `edges()` keys by `field`: the field's name, without a list place."""
    found = _FIELD.match(field)
    return found.group(0) if found else field


def definition_edges(definition: WorkflowDefinition) -> list[Edge]:
    """Every edge of the definition, node by node in the definition's order, each node's in its declared order."""
    return [
        Edge(node.id, target, edge_kind(field))
        for node in definition.nodes
        for field, target in node.edges().items()
        if target
    ]


def edge_fields(model: type[NodeModel]) -> list[str]:
    """The JSON fields a node kind leads on by, in its `edges()` order: of its fields that hold node ids, those
    its `edges()` reports when every one of them is set (a field of a list of ids is named once)."""
    props = model.model_json_schema(by_alias=True).get("properties", {})
    probe: dict[str, object] = {}
    for name, spec in model.model_fields.items():
        shown = spec.alias or name
        schema = json.dumps(props.get(shown, {}))
        if shown != "id" and json.dumps(NODE_ID_PATTERN)[1:-1] in schema:
            probe[name] = [_PROBE] if '"array"' in schema else _PROBE
    found = model.model_construct(**probe).edges()  # type: ignore[arg-type]
    return list(dict.fromkeys(edge_kind(field) for field, target in found.items() if target))
