"""Webhook options: the methods a hook answers (a GET's query as payload), a shared token for senders that cannot
sign, and a synchronous answer with the execution's output."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable

from conveyor.config import Settings
from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow

GREET = flow({"id": "a", "type": "action", "action": "noop", "params": {"greeting": "hi {{ input.name }}"}})
SLEEP = flow({"id": "a", "type": "delay", "duration": "1h"})
TOKEN = "a-shared-token-0123456789"


async def hook(api: ApiClient, definition: JSONObject, workflow: JSONObject = GREET) -> JSONObject:
    created = await api.post("/workflows", json={**workflow, "name": f"wf-{uuid.uuid4().hex[:8]}"})
    response = await api.post(f"/workflows/{(await created.json())['id']}/triggers", json=definition)
    body = await response.json()
    assert response.status == 201, body
    return dict(body)


async def payloads(db: Pool) -> list[object]:
    async with db.acquire() as conn:
        return [
            json.loads(r["payload"]) for r in await conn.fetch("SELECT payload::text FROM trigger_events ORDER BY id")
        ]


async def test_a_get_hook_takes_its_query_parameters_as_the_payload(api: ApiClient, db: Pool) -> None:
    await hook(api, {"type": "webhook", "path": "ping", "methods": ["GET", "PUT"]})
    assert (await api.get("/hooks/ping?email=a%40example.com&tag=x&tag=y")).status == 202
    assert (await api.put("/hooks/ping", json={"email": "b@example.com"})).status == 202
    assert await payloads(db) == [{"email": "a@example.com", "tag": ["x", "y"]}, {"email": "b@example.com"}]


async def test_a_method_the_hook_does_not_declare_is_405_naming_the_allowed_ones(api: ApiClient, db: Pool) -> None:
    await hook(api, {"type": "webhook", "path": "ping"})
    for method in ("GET", "PUT"):
        response = await api.request(method, "/hooks/ping", json={})
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert (await response.json())["error"]["code"] == "method_not_allowed"
    assert await payloads(db) == []


async def test_a_hook_with_a_token_takes_only_requests_that_carry_it(api: ApiClient, db: Pool) -> None:
    created = await hook(api, {"type": "webhook", "path": "form", "token": TOKEN, "token_header": "X-Form-Token"})
    assert "token" not in created["definition"]
    for headers in ({}, {"X-Form-Token": TOKEN[:-1]}, {"X-Form-Token": TOKEN + "x"}, {"X-Conveyor-Token": TOKEN}):
        response = await api.post("/hooks/form", json={"a": 1}, headers=headers)
        assert response.status == 401, headers
        error = (await response.json())["error"]
        assert (error["code"], error["details"]["field"]) == ("invalid_token", "X-Form-Token")
        assert TOKEN not in await response.text()
    assert (await api.post("/hooks/form", json={"a": 1}, headers={"X-Form-Token": TOKEN})).status == 202
    assert len(await payloads(db)) == 1
    shown = await (await api.get(f"/triggers/{created['id']}")).text()
    assert TOKEN not in shown


async def test_a_hook_takes_a_secret_or_a_token_not_both(api: ApiClient) -> None:
    created = await api.post("/workflows", json=GREET)
    definition = {"type": "webhook", "path": "x", "secret": "0123456789abcdef", "token": TOKEN}
    response = await api.post(f"/workflows/{(await created.json())['id']}/triggers", json=definition)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/token"


async def test_a_synchronous_hook_answers_with_the_executions_output(api: ApiClient, worker: Worker) -> None:
    await hook(api, {"type": "webhook", "path": "greet", "wait": "20s"})
    response = await api.post("/hooks/greet", json={"name": "Ada"})
    answer = await response.json()
    assert response.status == 200, answer
    assert (answer["outcome"], answer["state"], answer["output"]) == ("started", "completed", {"greeting": "hi Ada"})


async def test_a_synchronous_hook_past_its_wait_is_202_with_the_executions_location(
    api: ApiClient, worker: Worker
) -> None:
    await hook(api, {"type": "webhook", "path": "slow", "wait": "1s"}, SLEEP)
    response = await api.post("/hooks/slow", json={})
    answer = await response.json()
    assert response.status == 202, answer
    assert answer["execution_id"] is not None
    assert response.headers["Location"] == f"/executions/{answer['execution_id']}"


async def test_synchronous_hooks_past_the_cap_on_waits_are_answered_at_once(
    db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]
) -> None:
    api = await aiohttp_client(create_app(db, Settings(max_waits=0)))
    await hook(api, {"type": "webhook", "path": "greet", "wait": "5m"})
    response = await api.post("/hooks/greet", json={"name": "Ada"})
    answer = await response.json()
    assert (response.status, answer["outcome"], answer["execution_id"]) == (202, None, None)
    assert response.headers["Location"].endswith("/rows")
    await consume_inbox(db, TriggerCache(), 100)


async def test_a_get_hooks_unstorable_query_is_a_422_naming_the_parameter(api: ApiClient, db: Pool) -> None:
    await hook(api, {"type": "webhook", "path": "ping", "methods": ["GET"]})
    for query, field in (("a=%00", "a"), ("b%00=1", "query")):
        response = await api.get(f"/hooks/ping?{query}")
        assert response.status == 422, query  # as for every route's query (conveyor/http/parameters.py)
        assert (await response.json())["error"]["details"]["field"] == field
    # bytes that are not UTF-8 are read as U+FFFD, text that can be stored
    assert (await api.get("/hooks/ping?c=%ED%A0%80")).status == 202
    assert await payloads(db) == [{"c": "\ufffd" * 3}]


async def test_a_signed_get_signs_its_raw_query_string(api: ApiClient, db: Pool) -> None:
    secret = "0123456789abcdef"
    await hook(api, {"type": "webhook", "path": "ping", "methods": ["GET"], "secret": secret})
    query = "email=ada&plan=pro&tag=a&tag=b"
    t = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"{t}\nd-1\n{query}".encode(), hashlib.sha256).hexdigest()
    headers = {"X-Conveyor-Signature": f"t={t},v1={digest}", "X-Conveyor-Delivery": "d-1"}
    assert (await api.get(f"/hooks/ping?{query.replace('pro', 'team')}", headers=headers)).status == 401
    assert (await api.get(f"/hooks/ping?{query}", headers=headers)).status == 202
    assert await payloads(db) == [{"email": "ada", "plan": "pro", "tag": ["a", "b"]}]
