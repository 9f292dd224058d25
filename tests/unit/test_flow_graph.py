"""The flow language's graph, checked at save: each kind declares its edges with a kind, and a cycle that nothing
leaves or paces is refused, naming its nodes, however long the definition."""

from __future__ import annotations

import typing

import pytest

from conveyor.definitions import Edge
from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.kinds import KINDS, parse_definition

EDGE_KINDS = set(typing.get_args(typing.get_type_hints(Edge)["kind"]))


def _node(node_id: str, next_: str | None) -> JSONObject:
    return {"id": node_id, "type": "action", "action": "noop", "next": next_}


def _definition(*nodes: JSONObject) -> JSONObject:
    return {"name": "g", "start": nodes[0]["id"], "nodes": list(nodes)}


def test_every_kind_declares_its_edges_with_a_known_kind_and_a_pointer_into_itself() -> None:
    definition = parse_definition(
        _definition(
            {"id": "p", "type": "parallel", "branches": ["a", "b"], "join": "j"},
            {"id": "a", "type": "condition", "rule": True, "then": "j", "else": "j", "on_error": "j"},
            {"id": "b", "type": "foreach", "items": [1], "branch": "t", "next": "w"},
            {"id": "t", "type": "transform", "set": {"x": 1}},
            {"id": "w", "type": "wait_for_event", "events": ["e"], "on_event": "j", "on_timeout": None},
            _node("j", None),
        )
    )
    edges = {node.id: [(e.pointer, e.target, e.kind) for e in node.edges()] for node in definition.nodes}
    assert edges["p"] == [("/branches/0", "a", "branches"), ("/branches/1", "b", "branches"), ("/join", "j", "join")]
    assert edges["a"] == [("/then", "j", "then"), ("/else", "j", "else"), ("/on_error", "j", "on_error")]
    assert edges["b"] == [("/next", "w", "next"), ("/branch", "t", "branch")]
    assert edges["w"] == [("/on_event", "j", "on_event"), ("/on_timeout", None, "on_timeout")]
    assert {e.kind for n in definition.nodes for e in n.edges()} <= EDGE_KINDS
    assert {kind.type for kind in KINDS} >= {"parallel", "foreach", "transform"}


def test_a_runaway_cycle_names_every_node_in_it() -> None:
    with pytest.raises(DefinitionError) as refused:
        parse_definition(_definition(_node("start", "a"), _node("a", "b"), _node("b", "c"), _node("c", "a")))
    [error] = refused.value.details["errors"]
    assert (error["pointer"], error["value"]) == ("/nodes/1", ["a", "b", "c"])


@pytest.mark.parametrize(
    "exit_node",
    [
        {"id": "c", "type": "delay", "duration": "1s", "next": "a"},
        {"id": "c", "type": "condition", "rule": True, "then": "a", "else": None},
        {"id": "c", "type": "condition", "rule": True, "then": "a", "else": "out"},
        {**_node("c", "a"), "on_error": "out"},
        {"id": "c", "type": "wait_for_event", "events": ["e"], "on_event": "a", "on_timeout": "a"},
    ],
)
def test_a_cycle_a_delay_wait_condition_or_error_path_leaves_or_paces_is_saved(exit_node: JSONObject) -> None:
    out = [_node("out", None)] if "out" in exit_node.values() else []
    parse_definition(_definition(_node("a", "b"), _node("b", "c"), exit_node, *out))


def test_a_cycle_of_ten_thousand_nodes_is_found_without_recursion() -> None:
    n = 10_000
    nodes = [_node(f"n{i}", f"n{(i + 1) % n}") for i in range(n)]
    with pytest.raises(DefinitionError) as refused:
        parse_definition(_definition(*nodes))
    assert len(refused.value.details["errors"][0]["value"]) == n
