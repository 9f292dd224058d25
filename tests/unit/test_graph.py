"""A definition's graph comes from each node kind's own `edges()`: every field naming a node is an edge."""

from __future__ import annotations

from conveyor.graph import definition_edges, edge_field, edge_fields
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.kinds import KINDS, parse_definition
from tests.every_kind import EXAMPLES, every_kind_definition


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == {kind.type for kind in KINDS}, "add the new kind to tests/every_kind.py"


def _node_names(value: JSONValue, ids: set[str]) -> list[str]:
    if isinstance(value, str):
        return [value] if value in ids else []
    if isinstance(value, list):
        return [name for item in value for name in _node_names(item, ids)]
    return []


def test_every_field_naming_a_node_is_an_edge_of_its_kind() -> None:
    definition = every_kind_definition()
    ids = {node["id"] for node in definition["nodes"]}
    edges = definition_edges(parse_definition(definition))
    for node in EXAMPLES.values():
        named = sorted(
            (field, name) for field, value in node.items() if field != "id" for name in _node_names(value, ids)
        )
        drawn = sorted((e.kind, e.target) for e in edges if e.source == node["id"])
        assert drawn == named, f"{node['type']}: edges() must declare every field that names a node"


def test_an_edge_in_a_list_field_takes_the_list_name_as_its_kind() -> None:
    assert edge_field("/branches/0") == "branches"
    assert edge_field("/on_timeout") == "on_timeout"


def test_each_kind_names_the_fields_it_leads_on_by() -> None:
    fields = {kind.type: edge_fields(kind.model) for kind in KINDS}
    types = {str(node["id"]): str(node["type"]) for node in EXAMPLES.values()}
    for edge in definition_edges(parse_definition(every_kind_definition())):
        assert edge.kind in fields[types[edge.source]], edge
    assert fields["condition"] == ["then", "else", "on_error"]
    assert fields["wait_for_event"] == ["on_event", "on_timeout", "on_error"]
    assert fields["parallel"] == ["branches", "join", "on_error"]
