"""Named secrets: write-only over the API, encrypted at rest, checked at save, reached from templates only."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable

import pytest

from conveyor.config import Settings, env_secrets
from conveyor.http.app import create_app
from conveyor.secret_cipher import generate_key
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.integration.conftest import ApiClient, flow, running_worker, wait_until_ended

KEY = generate_key()


@pytest.fixture
async def vault_api(db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> ApiClient:
    """The API with a secret key, and one secret given by the environment."""
    settings = Settings(secret_key=KEY, env_secrets={"FROM_ENV": f"env-{uuid.uuid4().hex}"})
    return await aiohttp_client(create_app(db, settings))


async def test_put_without_a_secret_key_is_409_naming_the_key(api: ApiClient) -> None:
    response = await api.put("/secrets/CRM_TOKEN", json={"value": "a value long enough"})
    assert response.status == 409
    error = (await response.json())["error"]
    assert error["code"] == "secret_key_missing"
    assert error["details"]["field"] == "CONVEYOR_SECRET_KEY"
    assert "CONVEYOR_SECRET_KEY" in error["message"]


async def test_secrets_are_written_and_listed_but_never_read_back(db: Pool, vault_api: ApiClient) -> None:
    value = f"planted-{uuid.uuid4().hex}"
    created = await vault_api.put("/secrets/CRM_TOKEN", json={"value": value})
    assert created.status == 201
    replaced = await vault_api.put("/secrets/CRM_TOKEN", json={"value": value + "-2"})
    assert replaced.status == 200
    listing = await vault_api.get("/secrets")
    items = (await listing.json())["items"]
    assert [(i["name"], i["source"]) for i in items] == [("CRM_TOKEN", "table"), ("FROM_ENV", "env")]
    assert items[0]["updated_at"] is not None
    for answer in (created, replaced, listing):
        assert value not in await answer.text()
    async with db.acquire() as conn:
        stored = await conn.fetchval("SELECT ciphertext FROM secrets WHERE name = 'CRM_TOKEN'")
    assert value.encode() not in bytes(stored)
    assert (await vault_api.delete("/secrets/CRM_TOKEN")).status == 204
    assert (await vault_api.delete("/secrets/CRM_TOKEN")).status == 404
    assert [i["name"] for i in (await (await vault_api.get("/secrets")).json())["items"]] == ["FROM_ENV"]


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("bad-name", {"value": "long enough value"}, 422, "name"),
        ("SHORT", {"value": "short"}, 422, "value"),
        ("SHORT", {"value": 12345678}, 422, "/value"),
        ("FROM_ENV", {"value": "long enough value"}, 409, "name"),
    ],
)
async def test_a_bad_put_names_the_field(
    vault_api: ApiClient, name: str, body: dict[str, object], status: int, field: str
) -> None:
    response = await vault_api.put(f"/secrets/{name}", json=body)
    assert response.status == status
    assert (await response.json())["error"]["details"]["field"] == field
    assert "long enough value" not in await response.text()


async def test_the_environment_gives_secrets_by_prefix_but_not_the_key() -> None:
    env = {"CONVEYOR_SECRET_CRM": "v1-long-enough", "CONVEYOR_SECRET_KEY": KEY, "OTHER": "x"}
    assert env_secrets(env) == {"CRM": "v1-long-enough"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ secrets.MISSING }}", "secret 'MISSING' does not exist"),
        ("Bearer {{ secrets['MISSING'] }}", "secret 'MISSING' does not exist"),
        ("{{ secrets[input.name] }}", "named literally"),
        ("{{ secrets }}", "named literally"),
        ("{{ secrets|tojson }}", "named literally"),
        ("{% for k in secrets %}{{ k }}{% endfor %}", "named literally"),
    ],
)
async def test_a_definition_naming_a_missing_or_dynamic_secret_is_422(
    vault_api: ApiClient, template: str, message: str
) -> None:
    node = {"id": "call", "type": "webhook", "url": "http://127.0.0.1:9/hook", "headers": {"Authorization": template}}
    response = await vault_api.post("/workflows", json=flow(node))
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"]["field"] == "/nodes/0/headers/Authorization"
    assert message in error["message"]


async def test_a_secret_given_by_the_environment_is_accepted_at_save(vault_api: ApiClient) -> None:
    node = {"id": "call", "type": "webhook", "url": "http://127.0.0.1:9/{{ secrets.FROM_ENV }}"}
    assert (await vault_api.post("/workflows", json=flow(node))).status == 201


async def test_a_payload_naming_a_secret_renders_literally(
    db: Pool, database_url: str, settings: Settings, vault_api: ApiClient, webhook_peer: WebhookPeer
) -> None:
    value = f"never-sent-{uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM_TOKEN", json={"value": value})).status == 201
    node = {
        "id": "call",
        "type": "webhook",
        "url": webhook_peer.url,
        "headers": {"X-Echo": "{{ input.text }}"},
        "body": {"echo": "{{ input.text }}", "plain": "{{ input.text }} and more"},
    }
    workflow = await (await vault_api.post("/workflows", json=flow(node))).json()
    payload = {"input": {"text": "{{ secrets.CRM_TOKEN }}"}}
    started = await (await vault_api.post(f"/workflows/{workflow['id']}/executions", json=payload)).json()
    async with running_worker(db, database_url, dataclasses.replace(settings, secret_key=KEY)):
        ex = await wait_until_ended(db, uuid.UUID(started["id"]))
    assert ex.state == "completed"
    [received] = webhook_peer.received
    assert received.body == {"echo": "{{ secrets.CRM_TOKEN }}", "plain": "{{ secrets.CRM_TOKEN }} and more"}
    assert received.headers["X-Echo"] == "{{ secrets.CRM_TOKEN }}"
    assert value not in str(received)
