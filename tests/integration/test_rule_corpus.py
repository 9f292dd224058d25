"""The rule corpus through the API: every hostile rule a clear 400 or a 422 naming its place, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.rules import compile_rule
from tests.corpus import corpus
from tests.integration.conftest import ApiClient


def _rule_text(entry: dict[str, Any]) -> str:
    if "rule" in entry:
        return str(entry["rule"])
    spec = entry["generate"]
    inner = ", ".join([spec["inner"]] * spec.get("items", 1))
    generated: str = spec["open"] * spec["times"] + inner + spec["close"] * spec["times"]
    return generated


@pytest.mark.parametrize("entry", corpus("rules.json", "rules", "note"))
async def test_a_hostile_rule_is_refused_when_the_definition_is_saved(api: ApiClient, entry: dict[str, Any]) -> None:
    body = (
        '{"name": "hostile", "start": "c", "nodes": [{"id": "c", "type": "condition", "rule": '
        + _rule_text(entry)
        + ', "then": null, "else": null}]}'
    )
    response = await api.post("/workflows", data=body, headers={"Content-Type": "application/json"})
    answer = await response.json()
    assert response.status == entry["status"], answer
    if response.status == 422:
        assert answer["error"]["details"]["field"].startswith("/nodes/0/rule")


async def test_a_rule_built_to_be_slow_stops_at_its_operation_budget() -> None:
    doubling = compile_rule(
        {"reduce": [{"var": "xs"}, {"cat": [{"var": "accumulator"}, {"var": "accumulator"}]}, "ab"]}
    )
    with pytest.raises(Exception, match="budget exceeded"):
        doubling.evaluate({"xs": list(range(40))})


@pytest.mark.parametrize("number", ["1e999", "-1e999", "9" * 1001])
async def test_an_input_number_json_cannot_hold_is_400(api: ApiClient, number: str) -> None:
    response = await api.post(
        "/workflows/any/executions",
        data='{"input": {"n": ' + number + "}}",
        headers={"Content-Type": "application/json"},
    )
    answer = await response.json()
    assert response.status == 400
    assert "too" in answer["error"]["message"]
