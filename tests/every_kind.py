"""A definition with a node of every kind, each of its edges set: what tests of drawing and listing edges use.

A new node kind fails `test_every_kind_has_an_example` until it has an example here, so the graph tests cover it.
"""

from __future__ import annotations

from conveyor.jsonvalue import JSONObject

CHILD = "every-kind-child"
"""The workflow the shared_flow node runs: create it first (`child_definition`)."""

# One node per kind, by type; together a graph from `check` to `end` in which every edge field is set.
EXAMPLES: dict[str, JSONObject] = {
    "condition": {
        "id": "check",
        "type": "condition",
        "rule": {"==": [{"var": "input.plan"}, "pro"]},
        "then": "call",
        "else": "wait",
    },
    "webhook": {"id": "call", "type": "webhook", "url": "http://127.0.0.1:9/hook", "next": "fork"},
    "parallel": {"id": "fork", "type": "parallel", "branches": ["shape", "pause"], "join": "each"},
    "transform": {
        "id": "shape",
        "type": "transform",
        "set": {"plan": "{{ input.plan }}"},
        "next": "each",
        "on_error": "each",
    },
    "foreach": {"id": "each", "type": "foreach", "items": [1, 2], "branch": "end", "next": "end"},
    "wait_for_event": {
        "id": "wait",
        "type": "wait_for_event",
        "events": ["user.engaged"],
        "timeout": "1h",
        "on_event": "child",
        "on_timeout": "pause",
    },
    "shared_flow": {"id": "child", "type": "shared_flow", "flow": CHILD, "next": "end"},
    "delay": {"id": "pause", "type": "delay", "duration": "1s", "next": "each"},
    "action": {"id": "end", "type": "action", "action": "noop"},
}


def every_kind_definition(name: str = "every-kind") -> JSONObject:
    """The definition made of the examples, starting at the condition."""
    return {"name": name, "start": "check", "nodes": list(EXAMPLES.values())}


def child_definition() -> JSONObject:
    """The workflow the shared_flow example runs."""
    return {"name": CHILD, "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
