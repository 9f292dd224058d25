"""A definition as a graph to draw: each edge from its node kind's own `edges()`, with the kind it declares."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from conveyor.definitions import NODE_ID_PATTERN, NodeModel, WorkflowDefinition

# An edge's field, as its pointer in `edges()` names it: a plain field (`/on_timeout`), or one place of a list
# field (`/branches/0`), whose field is the list's name.
_FIELD = re.compile(r"[A-Za-z_]+")
_PROBE = "probe"


@dataclass(frozen=True, slots=True)
class Edge:
    """One outgoing edge of a node: where it leads, and its kind (`next`, `then`, `on_error`, `branch`, …)."""

    source: str
    target: str
    kind: str


def edge_field(pointer: str) -> str:
    """The field of the node that holds the edge at `pointer`: its name, without a list place."""
    found = _FIELD.match(pointer.lstrip("/"))
    return found.group(0) if found else pointer


def definition_edges(definition: WorkflowDefinition) -> list[Edge]:
    """Every edge of the definition, node by node in the definition's order, each node's in its declared order."""
    return [Edge(node.id, edge.target, edge.kind) for node in definition.nodes for edge in node.edges() if edge.target]


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
    return list(dict.fromkeys(edge_field(edge.pointer) for edge in found if edge.target))
