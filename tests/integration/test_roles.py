"""Every route of the OpenAPI document, called with a key of every role: the route's declared role or above is
let in (2xx), a lower one gets 403, and each write route needs more than a viewer."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.roles import Role
from conveyor.secret_cipher import generate_key
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow

TOKEN = "bootstrap-token-value"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
Client = Callable[..., Awaitable[ApiClient]]


def access_settings() -> Settings:
    """An API guarded by the bootstrap token, able to make keys and store secrets."""
    return Settings(api_token=TOKEN, key_secret="k" * 32, secret_key=generate_key())


@pytest.fixture
async def guarded(db: Pool, aiohttp_client: Client) -> ApiClient:
    return await aiohttp_client(create_app(db, access_settings()))


async def make_key(api: ApiClient, role: str, namespace: str | None = None) -> str:
    """A new key of `role` (in the default namespace, unless named), made with the bootstrap token."""
    body: dict[str, Any] = {"role": role} | ({"namespace": namespace} if namespace else {})
    response = await api.post("/keys", json=body, headers=ADMIN)
    assert response.status == 201, await response.text()
    key: str = (await response.json())["key"]
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class World:
    """Objects of every kind for the routes' path parameters; operator routes get fresh executions."""

    api: ApiClient
    workflow: dict[str, Any]
    execution: str
    trigger: str
    schedule: str

    async def call(self, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.api.post(url, json=body or {}, headers=ADMIN)
        assert response.status in (200, 201), await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    async def fresh_execution(self) -> str:
        return str((await self.call(f"/workflows/{self.workflow['id']}/executions"))["id"])

    async def paused_execution(self) -> str:
        execution = await self.fresh_execution()
        await self.call(f"/executions/{execution}/pause")
        return execution


async def world(api: ApiClient) -> World:
    async def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await api.post(path, json=body, headers=ADMIN)
        assert response.status == 201, await response.text()
        answer: dict[str, Any] = await response.json()
        return answer

    workflow = await post("/workflows", flow({"id": "a", "type": "action", "action": "noop"}, name="walked"))
    execution = await post(f"/workflows/{workflow['id']}/executions", {})
    hook = await post(f"/workflows/{workflow['id']}/triggers", {"type": "webhook", "path": "walked"})
    schedule = await post(f"/workflows/{workflow['id']}/triggers", {"type": "schedule", "cron": "0 * * * *"})
    assert (await api.put("/templates/walked", json={"subject": "s", "text_body": "t"}, headers=ADMIN)).status < 300
    made = await api.put("/secrets/WALKED", json={"value": "value-one"}, headers=ADMIN)
    assert made.status == 201, await made.text()
    return World(api, workflow, str(execution["id"]), str(hook["id"]), str(schedule["id"]))


Request = tuple[str, dict[str, Any]]  # the URL, and the keyword arguments of the client's call


async def sample(w: World, method: str, path: str) -> Request:
    """A request on `path` that the route answers with a 2xx, given a role that may call it."""
    wf, ex, tr = w.workflow["id"], w.execution, w.trigger
    unique = uuid.uuid4().hex[:8]
    match method, path:
        case "post", "/workflows":
            return path, {"json": flow({"id": "a", "type": "action", "action": "noop"}, name=f"new-{unique}")}
        case "put", "/workflows/{id}":
            return f"/workflows/{wf}", {"json": w.workflow["definition"]}
        case "delete", "/workflows/{id}":
            spare = await w.call("/workflows", flow({"id": "a", "type": "action", "action": "noop"}))
            return f"/workflows/{spare['id']}", {}
        case "post", "/workflows/{id}/executions":
            return f"/workflows/{wf}/executions", {"json": {}}
        case "post", "/workflows/{id}/triggers":
            return f"/workflows/{wf}/triggers", {"json": {"type": "webhook", "path": f"p-{unique}"}}
        case "post", "/executions/{id}/resume":
            return f"/executions/{await w.paused_execution()}/resume", {}
        case "post", "/executions/{id}/retry":
            return f"/executions/{await w.fresh_execution()}/retry", {}
        case "post", "/executions/{id}/pause" | "/executions/{id}/cancel":
            return path.replace("{id}", await w.fresh_execution()), {}
        case "post", "/executions/bulk/{event}":
            return "/executions/bulk/cancel", {"json": {"ids": [await w.fresh_execution()]}}
        case "post", "/events":
            return path, {"json": {"type": "walked", "payload": {}}}
        case "post", "/recovery/recover":
            return path, {}
        case "patch", "/triggers/{id}":
            return f"/triggers/{w.schedule}", {"json": {"timezone": "Asia/Tokyo"}}
        case "delete", "/triggers/{id}":
            spare = await w.call(f"/workflows/{wf}/triggers", {"type": "webhook", "path": f"d-{unique}"})
            return f"/triggers/{spare['id']}", {}
        case "get", "/triggers/{id}/preview":
            return f"/triggers/{w.schedule}/preview", {}
        case "put", "/templates/{name}":
            return "/templates/walked", {"json": {"subject": "s2", "text_body": "t2"}}
        case "put", "/secrets/{secret}":
            return "/secrets/WALKED", {"json": {"value": "value-two"}}
        case "delete", "/secrets/{secret}":
            await w.api.put(f"/secrets/GONE_{unique.upper()}", json={"value": "value-one"}, headers=ADMIN)
            return f"/secrets/GONE_{unique.upper()}", {}
        case "post", "/keys":
            return path, {"json": {"role": "viewer"}}
        case "post", "/drafts" | "/definitions/check":
            return path, {"json": flow({"id": "a", "type": "action", "action": "noop"}, name=f"draft-{unique}")}
        case "post", "/workflows/{id}/versions/{version}/publish":
            draft = await w.call("/drafts", flow({"id": "a", "type": "action", "action": "noop"}, name="walked"))
            return f"/workflows/{wf}/versions/{draft['version']}/publish", {}
        case "delete", "/keys/{id}":
            made = await w.call("/keys", {"role": "viewer"})
            return f"/keys/{made['id']}", {}
    filled = {"id": wf if path.startswith("/workflows") else tr if path.startswith("/triggers") else ex}
    filled |= {"version": "1", "name": "walked", "key": "noop", "event": "pause", "secret": "WALKED"}
    return path.format(**filled), {}


# Routes whose sample cannot be answered 2xx without more machinery than a role check needs: what they answer.
_NOT_2XX = {
    ("post", "/executions/{id}/retry"): 409,  # only a failed execution can be retried; none has failed
}


async def _walk(api: ApiClient, role: Role) -> list[tuple[str, str, int, int]]:
    """(method, path, expected, answered) of every route the document names that is not public."""
    spec = await (await api.get("/openapi.json", headers=ADMIN)).json()
    w = await world(api)
    key = await make_key(api, role.label)
    wrong = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "x-conveyor-role" not in op or path == "/metrics":
                continue  # public, or guarded by the metrics token (test_auth.py)
            needed = Role.named(op["x-conveyor-role"])
            url, kwargs = await sample(w, method, path)
            response = await api.request(method.upper(), url, headers=bearer(key), **kwargs)
            status = response.status
            response.close()
            expected = 403 if role < needed else _NOT_2XX.get((method, path), 200)
            if (status // 100 == 2) != (expected // 100 == 2) or (expected // 100 != 2 and status != expected):
                wrong.append((method, path, expected, status))
    return wrong


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.label)
async def test_every_route_answers_each_role_as_it_declares(guarded: ApiClient, role: Role) -> None:
    assert await _walk(guarded, role) == []


async def test_every_write_route_needs_more_than_a_viewer(guarded: ApiClient) -> None:
    spec = await (await guarded.get("/openapi.json", headers=ADMIN)).json()
    writes = [
        (method, path, op["x-conveyor-role"])
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if method != "get" and "x-conveyor-role" in op
    ]
    assert len(writes) > 20
    # A check that stores nothing is a read sent as a POST (its body is a whole definition).
    assert [w for w in writes if w[2] == "viewer"] == [("post", "/definitions/check", "viewer")]
    assert {(m, p) for m, p, r in writes if r == "admin"} >= {("put", "/secrets/{secret}"), ("post", "/keys")}


# Routes whose path names no object of a namespace: the catalog of actions every worker publishes, and a bulk
# operation (its executions are named in the body, and test_namespaces.py shows none of another's change).
_SHARED = {"/actions/{key}", "/executions/bulk/{event}"}
# Writes by name that create what is missing: in another namespace they make its own (201), never replace ours.
_UPSERTS = {("put", "/secrets/{secret}"), ("put", "/templates/{name}")}


async def test_another_namespaces_objects_answer_404_and_are_in_no_list(guarded: ApiClient) -> None:
    spec = await (await guarded.get("/openapi.json", headers=ADMIN)).json()
    w = await world(guarded)
    other = await make_key(guarded, "admin", namespace="elsewhere")
    ours = [w.workflow["id"], w.workflow["name"], w.execution, w.trigger, w.schedule, "WALKED"]
    wrong: list[tuple[str, str, int | str]] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if "x-conveyor-role" not in op or path == "/metrics" or path in _SHARED:
                continue
            url, kwargs = await sample(w, method, path)
            response = await guarded.request(method.upper(), url, headers=bearer(other), **kwargs)
            text = await response.text() if response.content_type == "application/json" else ""
            response.close()
            if (method, path) in _UPSERTS:
                if response.status != 201:
                    wrong.append((method, path, response.status))
            elif "{" in path and response.status != 404:
                wrong.append((method, path, response.status))
            elif "{" not in path and method == "get" and any(str(o) in text for o in ours):
                wrong.append((method, path, "lists another namespace's object"))
    assert wrong == []
