"""A definition as a graph to draw: each edge from its node kind's own `edges()`, its kind the field holding it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from conveyor.definitions import WorkflowDefinition

# An edge's field, as `edges()` names it: a plain field (`on_timeout`), or one place of a list field
# (`branches/0`), whose kind is the list's name.
_FIELD = re.compile(r"[A-Za-z_]+")


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
