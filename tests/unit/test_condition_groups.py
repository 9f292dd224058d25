"""Filters written as groups of conditions compile to JSON Logic that says the same thing."""

from __future__ import annotations

import pytest

from conveyor.condition_groups import MAX_GROUP_DEPTH, as_rule, group_errors
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.rules import compile_rule, is_truthy

PAYLOAD: JSONObject = {"plan": "pro", "email": "ada@example.com", "age": 36, "tags": ["vip", "beta"], "gone": None}


def _holds(condition: JSONObject) -> bool:
    rule = as_rule({"conditions": [condition]})
    return is_truthy(compile_rule(rule).evaluate(PAYLOAD))


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("equals", "pro", True),
        ("equals", "free", False),
        ("not_equals", "free", True),
        ("contains", "example", True),
        ("not_contains", "example", False),
        ("starts_with", "ada@", True),
        ("ends_with", "@example.com", True),
        ("ends_with", "@example.org", False),
        ("gt", 35, True),
        ("gte", 36, True),
        ("lt", 36, False),
        ("lte", 36, True),
        ("in", ["pro", "team"], True),
        ("not_in", ["pro", "team"], False),
    ],
)
def test_each_operator_means_what_its_name_says(operator: str, value: JSONValue, expected: bool) -> None:
    field = "email" if operator in ("contains", "not_contains", "starts_with", "ends_with") else "plan"
    field = "age" if operator in ("gt", "gte", "lt", "lte") else field
    assert _holds({"field": field, "operator": operator, "value": value}) is expected


def test_exists_is_false_for_a_missing_or_null_field() -> None:
    assert _holds({"field": "plan", "operator": "exists"})
    assert not _holds({"field": "nowhere", "operator": "exists"})
    assert _holds({"field": "gone", "operator": "not_exists"})


def test_a_list_field_contains_its_items() -> None:
    assert _holds({"field": "tags", "operator": "contains", "value": "vip"})


def test_groups_nest_and_combine_with_and_or() -> None:
    group: JSONObject = {
        "combinator": "or",
        "conditions": [
            {"field": "plan", "operator": "equals", "value": "free"},
            {"conditions": [{"field": "age", "operator": "gte", "value": 18}, {"field": "tags", "operator": "exists"}]},
        ],
    }
    assert group_errors(group, "/filter") == []
    assert is_truthy(compile_rule(as_rule(group)).evaluate(PAYLOAD))


def test_a_group_nested_too_deep_is_refused_at_the_filter() -> None:
    group: JSONValue = {"field": "a", "operator": "exists"}
    for _ in range(MAX_GROUP_DEPTH + 1):
        group = {"conditions": [group]}
    [error] = group_errors(group, "/filter")
    assert error["pointer"] == "/filter"
