import pytest

from conveyor.errors import DefinitionError
from conveyor.nodes.kinds import parse_definition
from conveyor.rules import MAX_DEPTH


def test_a_rule_nested_10000_deep_is_refused_naming_where_it_is_too_deep() -> None:
    rule: object = {"var": "a"}
    for _ in range(10_000):
        rule = {"!": [rule]}
    definition = {"name": "deep", "start": "c", "nodes": [{"id": "c", "type": "condition", "rule": rule}]}
    with pytest.raises(DefinitionError, match=f"nested more than {MAX_DEPTH} deep") as caught:
        parse_definition(definition)
    assert caught.value.details["field"].startswith("/nodes/0/rule/!/0/!/0")
