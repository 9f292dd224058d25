"""The HTTP API: shapes, the JSON error format, and the example flow of DESIGN.md end to end."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest

from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.examples import design_example
from tests.integration.conftest import ApiClient, flow


def assert_error(body: dict[str, object], code: str) -> dict[str, object]:
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], dict)
    return error


async def test_malformed_json_is_400(api: ApiClient) -> None:
    response = await api.post("/workflows", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert_error(await response.json(), "bad_request")


async def test_empty_body_is_400(api: ApiClient) -> None:
    response = await api.post("/workflows", data="", headers={"Content-Type": "application/json"})
    assert response.status == 400


async def test_definition_with_a_dangling_edge_is_422_naming_the_node(api: ApiClient) -> None:
    definition = flow({"id": "a", "type": "action", "action": "noop", "next": "ghost"})
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    error = assert_error(await response.json(), "invalid_definition")
    assert error["details"]["field"] == "/nodes/0/next"  # type: ignore[index]
    assert "ghost" in str(error["message"])


@pytest.mark.parametrize(
    ("node", "pointer"),
    [
        ({"id": "a", "type": "teleport"}, "/nodes/0/type"),
        ({"id": "a", "type": "delay", "duration": "soon"}, "/nodes/0/duration"),
        ({"id": "a", "type": "condition", "rule": {"nosuchop": [1]}}, "/nodes/0/rule"),
        ({"id": "a", "type": "action", "action": "launch_rocket"}, "/nodes/0/action"),
        ({"id": "a", "type": "shared_flow", "flow": "missing-flow"}, "/nodes/0/flow"),
        ({"id": "a", "type": "webhook", "url": "{{ broken"}, "/nodes/0/url"),
        ({"id": "a", "type": "action", "action": "noop", "surprise": 1}, "/nodes/0/surprise"),
    ],
)
async def test_invalid_definitions_are_rejected_at_creation(
    api: ApiClient, node: dict[str, object], pointer: str
) -> None:
    response = await api.post("/workflows", json=flow(node))
    assert response.status == 422
    error = assert_error(await response.json(), "invalid_definition")
    assert error["details"]["field"] == pointer  # type: ignore[index]


async def test_unreachable_node_is_rejected(api: ApiClient) -> None:
    definition = {
        "name": "x",
        "start": "a",
        "nodes": [{"id": "a", "type": "action", "action": "noop"}, {"id": "b", "type": "action", "action": "noop"}],
    }
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    assert "unreachable" in (await response.json())["error"]["message"]


async def test_duplicate_workflow_name_is_409(api: ApiClient) -> None:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, name="twice")
    assert (await api.post("/workflows", json=definition)).status == 201
    response = await api.post("/workflows", json=definition)
    assert response.status == 409
    assert_error(await response.json(), "conflict")


async def test_unknown_ids_are_404(api: ApiClient) -> None:
    for path in (
        f"/workflows/{uuid.uuid4()}",
        f"/executions/{uuid.uuid4()}",
        "/executions/not-a-uuid",
        f"/executions/{uuid.uuid4()}/history",
        f"/executions/{uuid.uuid4()}/steps",
        "/nowhere",
    ):
        response = await api.get(path)
        assert response.status == 404, path
        assert "error" in await response.json()
    response = await api.post(f"/workflows/{uuid.uuid4()}/executions", json={"input": {}})
    assert response.status == 404


async def test_bad_execution_body_is_422_naming_the_field(api: ApiClient) -> None:
    created = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    response = await api.post(f"/workflows/{created['id']}/executions", json={"input": [1, 2]})
    assert response.status == 422
    assert assert_error(await response.json(), "validation_error")["details"]["field"] == "/input"  # type: ignore[index]


async def test_bad_query_parameter_is_422(api: ApiClient) -> None:
    response = await api.get("/emails?execution=nope")
    assert response.status == 422


async def test_workflow_is_readable_by_id_and_by_name(api: ApiClient) -> None:
    created = await (
        await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}, name="by-name"))
    ).json()
    assert set(created) >= {"id", "name", "description", "version", "active", "definition", "created_at", "updated_at"}
    assert created["version"] == 1
    for ref in (created["id"], "by-name"):
        assert (await (await api.get(f"/workflows/{ref}")).json())["id"] == created["id"]


async def test_dedupe_key_returns_the_same_execution(api: ApiClient) -> None:
    created = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    first = await api.post(f"/workflows/{created['id']}/executions", json={"input": {}, "dedupe_key": "k1"})
    second = await api.post(f"/workflows/{created['id']}/executions", json={"input": {}, "dedupe_key": "k1"})
    assert (first.status, second.status) == (201, 200)
    assert (await first.json())["id"] == (await second.json())["id"]


async def test_health_endpoints_answer(api: ApiClient) -> None:
    assert (await api.get("/health/live")).status == 200
    ready = await api.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["database"] == "ok"
    metrics = await api.get("/metrics")
    assert "conveyor_steps_total" in await metrics.text()


async def test_design_example_runs_to_completion_through_the_api(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    definition = design_example(webhook_peer.url, delay="2s")
    created = await api.post("/workflows", json=definition)
    assert created.status == 201
    workflow_id = (await created.json())["id"]
    started = await api.post(
        f"/workflows/{workflow_id}/executions", json={"input": {"email": "lin@example.com", "plan": "free"}}
    )
    assert started.status == 201
    execution = await started.json()
    assert set(execution) >= {
        "id",
        "workflow_id",
        "workflow_version",
        "state",
        "current_node",
        "input",
        "output",
        "error",
        "attempt",
        "wake_at",
        "parent_id",
        "created_at",
        "started_at",
        "finished_at",
    }

    async def ended() -> JSONObject | None:
        current: JSONObject = await (await api.get(f"/executions/{execution['id']}")).json()
        return current if current["state"] in ("completed", "failed", "cancelled") else None

    execution = await poll_until(ended, "the execution to end, read through the API", timeout_seconds=15)
    assert execution["state"] == "completed"
    history = (await (await api.get(f"/executions/{execution['id']}/history")).json())["items"]
    states = [h["to"] for h in history]
    for state in ("running", "stepCompleted", "delayed", "completed"):
        assert state in states
    slept = next(h for h in history if h["event"] == "sleep")
    woke = next(h for h in history if h["event"] == "wake")
    waited = (datetime.fromisoformat(woke["at"]) - datetime.fromisoformat(slept["at"])).total_seconds()
    assert 2.0 <= waited < 3.0
    steps = (await (await api.get(f"/executions/{execution['id']}/steps")).json())["items"]
    assert [s["node"] for s in steps] == ["welcome", "wait", "engaged", "nudge", "crm"]
    emails = (await (await api.get(f"/emails?execution={execution['id']}")).json())["items"]
    assert [e["template"] for e in emails] == ["engagement_nudge", "generic_welcome"]  # newest first
    assert webhook_peer.bodies() == [{"email": "lin@example.com"}]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"name": "\xff"}', 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (b'{"name": "nul\\u0000", "start": "a", "nodes": []}', 400),
        (b'{"name": "\\ud800", "start": "a", "nodes": []}', 400),
        (b'{"name": "n", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": NaN}]}', 400),
        (b'{"name": "n", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": 1e300}]}', 422),
        (
            b'{"name": "n", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": "9999999999999999999d"}]}',
            422,
        ),
        (b'{"name": "n", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": "-5s"}]}', 422),
        (
            b'{"name": "n", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop",'
            b' "params": {"x": "{{ 99999 ** 99999 }}"}}]}',
            201,
        ),
        (
            b'{"name": "n2", "start": "a", "nodes": [{"id": "a", "type": "condition",'
            b' "rule": {"==": [1, 18446744073709551616]}}]}',
            422,
        ),
    ],
)
async def test_hostile_bodies_get_a_clear_4xx_never_a_500(api: ApiClient, body: bytes, status: int) -> None:
    response = await api.post("/workflows", data=body, headers={"Content-Type": "application/json"})
    assert response.status == status
    if status >= 400:
        assert "error" in await response.json()


async def test_a_nul_in_a_workflow_name_is_404(api: ApiClient) -> None:
    assert (await api.get("/workflows/a%00b")).status == 404
    assert (await api.post("/workflows/a%00b/executions", json={"input": {}})).status == 404
