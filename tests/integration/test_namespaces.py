"""Namespaces: two teams with workflows of the same name and events of the same type; nothing crosses, and
another namespace's objects answer 404 as if they did not exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.statemachines import COMPLETED, DELAYED
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, wait_for, wait_until_ended
from tests.integration.test_roles import ADMIN, Client, access_settings, bearer, make_key
from tests.integration.test_wait_for_event import waiting


@pytest.fixture
async def guarded(db: Pool, aiohttp_client: Client) -> ApiClient:
    return await aiohttp_client(create_app(db, access_settings()))


async def _json(api: ApiClient, method: str, path: str, key: str, status: int = 200, **kwargs: Any) -> Any:
    response = await api.request(method, path, headers=bearer(key), **kwargs)
    assert response.status == status, await response.text()
    return await response.json()


async def test_the_same_workflow_name_lives_in_two_namespaces_apart(guarded: ApiClient) -> None:
    a, b = await make_key(guarded, "editor", "team-a"), await make_key(guarded, "editor", "team-b")
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="onboarding")
    in_a = await _json(guarded, "POST", "/workflows", a, 201, json=definition)
    in_b = await _json(guarded, "POST", "/workflows", b, 201, json=definition)
    assert in_a["id"] != in_b["id"]
    await _json(guarded, "POST", "/workflows", a, 409, json=definition)  # unique within the namespace
    assert [w["id"] for w in (await _json(guarded, "GET", "/workflows", a))["items"]] == [in_a["id"]]
    assert (await _json(guarded, "GET", "/workflows/onboarding", b))["id"] == in_b["id"]
    assert (await _json(guarded, "GET", "/workflows", ADMIN["Authorization"][7:]))["items"] == []  # default's

    started = await _json(guarded, "POST", f"/workflows/{in_a['id']}/executions", a, 201, json={})
    for path in (
        f"/workflows/{in_a['id']}",
        f"/workflows/{in_a['id']}/versions",
        f"/workflows/{in_a['id']}/statistics",
        f"/executions/{started['id']}",
        f"/executions/{started['id']}/history",
    ):
        other = await guarded.get(path, headers=bearer(b))
        unknown = await guarded.get(
            path.replace(in_a["id"], str(uuid.uuid4())).replace(started["id"], str(uuid.uuid4())), headers=bearer(b)
        )
        assert (other.status, await other.json()) == (404, await unknown.json()), path
    await _json(guarded, "POST", f"/executions/{started['id']}/cancel", b, 404)
    await _json(guarded, "POST", f"/workflows/{in_a['id']}/executions", b, 404, json={})
    assert (await _json(guarded, "GET", "/executions", b))["items"] == []
    bulk = await _json(guarded, "POST", "/executions/bulk/cancel", b, json={"state": ["idle", "delayed", "running"]})
    assert bulk["changed"]["total"] == 0
    assert (await _json(guarded, "GET", f"/executions/{started['id']}", a))["state"] != "cancelled"


async def test_an_event_starts_and_ends_waits_in_its_own_namespace_only(
    guarded: ApiClient, db: Pool, worker: Worker
) -> None:
    keys = {ns: await make_key(guarded, "editor", ns) for ns in ("team-a", "team-b")}
    waiters, started_by = {}, {}
    for ns, key in keys.items():
        definition = {**waiting(), "name": "engage"}
        workflow = await _json(guarded, "POST", "/workflows", key, 201, json=definition)
        execution = await _json(
            guarded, "POST", f"/workflows/{workflow['id']}/executions", key, 201, json={"input": {"user": "ann"}}
        )
        waiters[ns] = uuid.UUID(execution["id"])
        starter = await _json(
            guarded,
            "POST",
            "/workflows",
            key,
            201,
            json=flow({"id": "a", "type": "action", "action": "noop"}, name="greet"),
        )
        await _json(
            guarded,
            "POST",
            f"/workflows/{starter['id']}/triggers",
            key,
            201,
            json={"type": "event", "event": "user.engaged"},
        )
        started_by[ns] = starter["id"]
    for execution_id in waiters.values():
        await wait_for(db, execution_id, lambda ex: ex.state == DELAYED)

    await _json(
        guarded, "POST", "/events", keys["team-a"], 202, json={"type": "user.engaged", "payload": {"user": "ann"}}
    )

    assert (await wait_until_ended(db, waiters["team-a"])).state == COMPLETED

    async def started_in_a() -> bool:
        found = await _json(guarded, "GET", f"/executions?workflow={started_by['team-a']}", keys["team-a"])
        return bool(found["items"])

    await poll_until(started_in_a, "the event trigger of team-a to start its workflow")
    # What raced the event in team-a did happen; team-b's wait and trigger saw nothing of it.
    assert (await _json(guarded, "GET", f"/executions?workflow={started_by['team-b']}", keys["team-b"]))["items"] == []
    assert (await _json(guarded, "GET", f"/executions/{waiters['team-b']}", keys["team-b"]))["state"] == DELAYED


async def test_a_trigger_of_another_namespace_is_404(guarded: ApiClient) -> None:
    a, b = await make_key(guarded, "editor", "team-a"), await make_key(guarded, "editor", "team-b")
    workflow = await _json(
        guarded, "POST", "/workflows", a, 201, json=flow({"id": "a", "type": "action", "action": "noop"})
    )
    trigger = await _json(
        guarded, "POST", f"/workflows/{workflow['id']}/triggers", a, 201, json={"type": "schedule", "cron": "0 * * * *"}
    )
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("POST", "/enable"),
        ("POST", "/disable"),
        ("GET", "/preview"),
        ("GET", "/rows"),
    ):
        kwargs = {"json": {"timezone": "UTC"}} if method == "PATCH" else {}
        await _json(guarded, method, f"/triggers/{trigger['id']}{path}", b, 404, **kwargs)
    assert (await _json(guarded, "GET", "/triggers", b))["items"] == []
    assert [t["id"] for t in (await _json(guarded, "GET", "/triggers", a))["items"]] == [trigger["id"]]


async def test_what_existed_before_namespaces_is_the_default_namespaces(db: Pool, aiohttp_client: Client) -> None:
    """An API without a token acts in the default namespace, where the data of before namespaces is."""
    api = await aiohttp_client(create_app(db, Settings()))
    created = await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}, name="old"))
    assert created.status == 201
    guarded = await aiohttp_client(create_app(db, access_settings()))
    viewer = await make_key(guarded, "viewer")
    assert [w["name"] for w in (await _json(guarded, "GET", "/workflows", viewer))["items"]] == ["old"]


async def test_templates_and_secrets_of_one_name_are_each_namespaces_own(
    guarded: ApiClient, db: Pool, worker: Worker
) -> None:
    for ns in ("team-a", "team-b"):
        key = await make_key(guarded, "admin", ns)
        template = {"subject": f"Hello from {ns}", "text_body": "Hi {{ params.to }}"}
        await _json(guarded, "PUT", "/templates/hello", key, 201, json=template)
        await _json(guarded, "PUT", "/secrets/CRM", key, 201, json={"value": f"secret-of-{ns}"})
        assert [s["name"] for s in (await _json(guarded, "GET", "/secrets", key))["items"]] == ["CRM"]
        mail = {
            "id": "mail",
            "type": "action",
            "action": "send_email",
            "params": {"to": "a@example.test", "template": "hello"},
        }
        workflow = await _json(guarded, "POST", "/workflows", key, 201, json=flow(mail, name="mail"))
        execution = await _json(guarded, "POST", f"/workflows/{workflow['id']}/executions", key, 201, json={})
        assert (await wait_until_ended(db, uuid.UUID(execution["id"]))).state == COMPLETED
        [email] = (await _json(guarded, "GET", "/emails", key))["items"]
        assert email["subject"] == f"Hello from {ns}"
    # The default namespace has the seed templates, but no "hello" and no secret CRM.
    await _json(guarded, "GET", "/templates/hello", ADMIN["Authorization"][7:], 404)
    assert (await _json(guarded, "GET", "/secrets", ADMIN["Authorization"][7:]))["items"] == []
