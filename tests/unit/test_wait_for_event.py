"""The wait_for_event node's declaration: edges, its timeout's two forms, and the match key it derives."""

from __future__ import annotations

from datetime import timedelta

import pytest

from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.kinds import parse_definition
from conveyor.nodes.wait_for_event import WaitForEventNode

DATA: JSONObject = {"input": {"user": "ada", "n": 3}, "steps": {}, "execution": {}}


def node(**fields: object) -> WaitForEventNode:
    raw = {"id": "w", "type": "wait_for_event", "events": ["user.engaged"], "on_event": "a", "on_timeout": "b"}
    definition = parse_definition(
        {
            "name": "x",
            "start": "w",
            "nodes": [
                {**raw, **fields},
                {"id": "a", "type": "condition", "rule": True},
                {"id": "b", "type": "delay", "duration": "1s"},
            ],
        }
    )
    found = definition.node("w")
    assert isinstance(found, WaitForEventNode)
    return found


def test_a_duration_timeout_is_a_duration_and_a_templated_one_a_time() -> None:
    assert node(timeout="2d").timeout == timedelta(days=2)
    templated = node(timeout="{{ input.trial_ends_at }}")
    assert templated.timeout is None
    assert templated.until == "{{ input.trial_ends_at }}"


def test_it_goes_on_by_its_two_edges_not_next() -> None:
    assert node().successors() == ["a", "b"]
    with pytest.raises(DefinitionError, match="on_event"):
        node(next="a")


def test_a_broken_match_rule_is_named_by_pointer() -> None:
    with pytest.raises(DefinitionError) as caught:
        node(match={"nope_operator": [1]})
    assert caught.value.details["field"].startswith("/nodes/0/match")


@pytest.mark.parametrize(
    ("match", "key"),
    [
        ({"==": [{"var": "event.payload.user"}, {"var": "input.user"}]}, (["payload", "user"], "ada")),
        ({"===": [{"var": "input.user"}, {"var": "event.payload.who.id"}]}, (["payload", "who", "id"], "ada")),
        ({"==": [{"var": "event.payload.user"}, "pro"]}, (["payload", "user"], "pro")),
        ({"==": [{"var": "event.payload.n"}, {"var": "input.n"}]}, None),  # not a string: no key
        ({"==": [{"var": "event.payload.a"}, {"var": "event.payload.b"}]}, None),
        ({"!=": [{"var": "event.payload.user"}, {"var": "input.user"}]}, None),
        ({"and": [True, True]}, None),
        (None, None),
    ],
)
def test_an_equality_on_one_event_path_gives_a_key(match: object, key: object) -> None:
    assert node(match=match).match_key(DATA) == key


def test_the_rule_sees_the_event_and_the_execution() -> None:
    wait = node(match={"==": [{"var": "event.payload.user"}, {"var": "input.user"}]})
    assert wait.accepts({"id": 1, "type": "user.engaged", "payload": {"user": "ada"}}, DATA)
    assert not wait.accepts({"id": 2, "type": "user.engaged", "payload": {"user": "bob"}}, DATA)


def test_a_cancel_on_rule_that_does_not_compile_is_named_by_pointer() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(
            {
                "name": "x",
                "start": "a",
                "cancel_on": [{"event": "user.gone", "match": {"nope_operator": [1]}}],
                "nodes": [{"id": "a", "type": "delay", "duration": "1s"}],
            }
        )
    assert caught.value.details["field"] == "/cancel_on/0/match"
