"""Drafts: a saved draft is used by no execution until published; a definition can be checked without saving."""

from __future__ import annotations

import json

import pytest

from conveyor.engine.worker import Worker
from tests.dashboard import ended, start
from tests.integration.conftest import ApiClient, flow


def _definition(duration: str = "1ms", name: str = "drafted") -> dict[str, object]:
    return flow(
        {"id": "hello", "type": "action", "action": "noop"},
        {"id": "nap", "type": "delay", "duration": duration},
        name=name,
    )


async def test_a_draft_of_a_live_workflow_is_not_used_until_published(api: ApiClient, worker: Worker) -> None:
    workflow = await (await api.post("/workflows", json=_definition("1ms"))).json()
    response = await api.post("/drafts", json=_definition("2ms"))
    assert response.status == 201, await response.text()
    draft = await response.json()
    assert (draft["version"], draft["draft"], draft["workflow_id"]) == (2, True, workflow["id"])
    assert [e["to"] for e in draft["graph"]["edges"]] == ["nap"]

    first = await start(api, workflow["id"])
    assert (await (await api.get(f"/executions/{first}")).json())["workflow_version"] == 1
    assert (await (await api.get(f"/workflows/{workflow['id']}")).json())["version"] == 1

    published = await api.post(f"/workflows/{workflow['id']}/versions/2/publish")
    assert published.status == 200, await published.text()
    assert (await published.json())["version"] == 2
    second = await start(api, workflow["id"])
    assert (await (await api.get(f"/executions/{second}")).json())["workflow_version"] == 2
    assert await ended(api, second) == "completed"

    again = await api.post(f"/workflows/{workflow['id']}/versions/2/publish")
    assert again.status == 409
    assert (await again.json())["error"]["details"]["field"] == "version"
    assert (await api.post(f"/workflows/{workflow['id']}/versions/9/publish")).status == 404


async def test_a_draft_of_a_new_workflow_refuses_starts_until_published(api: ApiClient) -> None:
    draft = await (await api.post("/drafts", json=_definition(name="brand-new"))).json()
    assert (draft["version"], draft["draft"]) == (1, True)
    refused = await api.post(f"/workflows/{draft['workflow_id']}/executions", json={"input": {}})
    assert refused.status == 409
    assert (await api.post("/workflows/brand-new/versions/1/publish")).status == 200
    assert (await api.post("/workflows/brand-new/executions", json={"input": {}})).status == 201


async def test_a_put_after_a_draft_takes_the_next_number(api: ApiClient) -> None:
    workflow = await (await api.post("/workflows", json=_definition())).json()
    assert (await (await api.post("/drafts", json=_definition("5ms"))).json())["version"] == 2
    put = await api.put(f"/workflows/{workflow['id']}", json=_definition("7ms"))
    assert (await put.json())["version"] == 3
    versions = (await (await api.get(f"/workflows/{workflow['id']}/versions")).json())["items"]
    assert [(v["version"], v["draft"]) for v in versions] == [(3, False), (2, True), (1, False)]


async def test_a_check_answers_the_graph_or_the_same_422_as_a_save(api: ApiClient) -> None:
    checked = await api.post("/definitions/check", json=_definition())
    assert checked.status == 200, await checked.text()
    assert (await checked.json())["graph"]["start"] == "hello"
    broken = json.loads(json.dumps(_definition()))
    broken["nodes"][0]["next"] = "nowhere"
    refused = await api.post("/definitions/check", json=broken)
    saved = await api.post("/drafts", json=broken)
    assert refused.status == saved.status == 422
    assert (await refused.json())["error"] == (await saved.json())["error"]
    assert (await refused.json())["error"]["details"]["field"] == "/nodes/0/next"
    assert (await api.get("/workflows/drafted")).status == 404  # nothing was stored


@pytest.mark.parametrize("body", ["[]", '{"name": 5}', "null", '{"name": "x", "start": "a", "nodes": []}'])
async def test_a_malformed_draft_is_422(api: ApiClient, body: str) -> None:
    response = await api.post("/drafts", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 422, await response.text()
