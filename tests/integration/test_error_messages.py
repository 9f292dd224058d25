"""Every definition and trigger 422 says what is wrong, where, and what is allowed, in words a person can act on
(tests/corpora/malformed_definitions.json); a template that reads a missing key names the key and the node."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from tests.corpus import corpus
from tests.integration.conftest import ApiClient, flow, wait_until_ended

# pydantic's own phrasing, which tells a user nothing they can act on
_INTERNALS = (
    "Value error",
    "Input tag",
    "input_value",
    "type=",
    "For further information",
    "Input should",
    "Field required",
)


async def _workflow(api: ApiClient) -> str:
    body = {**flow({"id": "a", "type": "action", "action": "noop"}), "name": f"wf-{uuid.uuid4().hex[:8]}"}
    return str((await (await api.post("/workflows", json=body)).json())["id"])


async def _send(api: ApiClient, case: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if case["target"] == "workflow":
        body = case.get("definition") or flow(case["node"])
        response = await api.post("/workflows", json=body)
    elif case["target"] == "trigger":
        response = await api.post(f"/workflows/{await _workflow(api)}/triggers", json=case["definition"])
    else:
        response = await api.post(f"/workflows/{await _workflow(api)}/executions", json=case["body"])
    return response.status, (await response.json())["error"]


@pytest.mark.parametrize("case", corpus("malformed_definitions.json", "cases", "name"))
async def test_a_malformed_definition_is_a_422_that_names_the_field_in_plain_words(
    api: ApiClient, case: dict[str, Any]
) -> None:
    status, error = await _send(api, case)
    assert status == 422, error
    assert error["details"]["field"] == case["field"], error
    messages = [error["message"], *(str(e.get("message")) for e in error["details"].get("errors", []))]
    for message in messages:
        assert not any(phrase in message for phrase in _INTERNALS), message
    if "says" in case:
        assert case["says"] in error["message"], error["message"]


def test_the_corpus_holds_many_malformed_shapes() -> None:
    cases = corpus("malformed_definitions.json", "cases", "name")
    assert len(cases) >= 60
    assert {c.values[0]["target"] for c in cases} == {"workflow", "trigger", "execution"}


async def test_a_template_reading_a_missing_key_names_the_key_and_the_node(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    node = {"id": "welcome", "type": "action", "action": "noop", "params": {"to": "{{ input.name }}"}}
    created = await (await api.post("/workflows", json=flow(node))).json()
    started = await (await api.post(f"/workflows/{created['id']}/executions", json={"input": {"email": "a@x"}})).json()
    ended = await wait_until_ended(db, uuid.UUID(started["id"]))
    assert ended.state == "failed"
    assert "input.name is not defined in node welcome" in str(ended.error), ended.error
    assert "dict object" not in str(ended.error)
