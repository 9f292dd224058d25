"""API keys: made with a role in a namespace, shown once, stored as a keyed hash, listed, revoked everywhere."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.test_roles import ADMIN, TOKEN, Client, access_settings, bearer, make_key


async def test_a_key_is_shown_once_and_stored_as_its_hmac_only(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    made = await (await api.post("/keys", json={"role": "editor", "label": "ci"}, headers=ADMIN)).json()
    key = made["key"]
    assert key.startswith("cvk_")
    assert len(key) > 40
    assert (made["role"], made["namespace"], made["label"], made["created_by"]) == ("editor", "default", "ci", "token")
    listed = await (await api.get("/keys", headers=ADMIN)).json()
    assert [k["id"] for k in listed["items"]] == [made["id"]]
    assert key not in repr(listed)
    async with db.acquire() as conn:
        stored = await conn.fetchrow("SELECT * FROM api_keys")
    assert stored is not None
    assert key.encode() not in repr(dict(stored)).encode()
    assert bytes(stored["digest"]) == hmac.new(b"k" * 32, key.encode(), hashlib.sha256).digest()
    assert (await api.get("/workflows", headers=bearer(key))).status == 200


async def test_a_revoked_key_stops_working_within_a_second_on_every_web_process(
    db: Pool, aiohttp_client: Client
) -> None:
    one = await aiohttp_client(create_app(db, access_settings()))
    two = await aiohttp_client(create_app(db, access_settings()))
    key = await make_key(one, "viewer")
    made = (await (await one.get("/keys", headers=ADMIN)).json())["items"][0]
    for api in (one, two):  # both processes have the key cached as live
        assert (await api.get("/workflows", headers=bearer(key))).status == 200
    revoked = await one.delete(f"/keys/{made['id']}", headers=ADMIN)
    assert revoked.status == 200
    assert (await revoked.json())["revoked_at"] is not None
    await asyncio.sleep(1.0)
    for api in (one, two):
        assert (await api.get("/workflows", headers=bearer(key))).status == 401


async def test_an_expired_key_is_refused(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    made = await (await api.post("/keys", json={"role": "viewer", "expires_at": soon}, headers=ADMIN)).json()
    await asyncio.sleep(1.1)
    assert (await api.get("/workflows", headers=bearer(made["key"]))).status == 401


async def test_an_unknown_key_or_one_made_under_another_secret_is_401(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    key = await make_key(api, "admin")
    other = await aiohttp_client(create_app(db, Settings(api_token=TOKEN, key_secret="x" * 32)))
    assert (await other.get("/workflows", headers=bearer(key))).status == 401
    assert (await api.get("/workflows", headers=bearer(key[:-2] + "zz"))).status == 401


async def test_without_a_key_secret_no_key_is_made(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, Settings(api_token=TOKEN)))
    refused = await api.post("/keys", json={"role": "viewer"}, headers=ADMIN)
    assert refused.status == 409
    assert (await refused.json())["error"]["code"] == "key_secret_missing"


async def test_a_namespaces_admin_makes_keys_for_that_namespace_only(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    admin = await make_key(api, "admin", namespace="team-a")
    mine = await api.post("/keys", json={"role": "viewer"}, headers=bearer(admin))
    assert (await mine.json())["namespace"] == "team-a"
    other = await api.post("/keys", json={"role": "viewer", "namespace": "team-b"}, headers=bearer(admin))
    assert other.status == 403
    assert (await other.json())["error"]["details"]["field"] == "/namespace"
    # The listing and revocation stay within the namespace: the default namespace's keys are not there.
    viewer_default = await make_key(api, "viewer")
    listed = await (await api.get("/keys", headers=bearer(admin))).json()
    assert {k["namespace"] for k in listed["items"]} == {"team-a"}
    default_id = next(k["id"] for k in (await (await api.get("/keys", headers=ADMIN)).json())["items"])
    assert (await api.delete(f"/keys/{default_id}", headers=bearer(admin))).status == 404
    assert (await api.get("/workflows", headers=bearer(viewer_default))).status == 200


async def test_a_role_too_low_is_403_naming_the_role_needed(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    viewer = await make_key(api, "viewer")
    refused = await api.delete("/secrets/ANY", headers=bearer(viewer))
    assert refused.status == 403
    error = (await refused.json())["error"]
    assert error["code"] == "role_too_low"
    assert error["details"] == {"field": "Authorization", "needs": "admin", "role": "viewer"}


async def test_hostile_key_bodies_are_422(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    for body, field in (
        ({"role": "root"}, "/role"),
        ({"role": "viewer", "namespace": "Team A"}, "/namespace"),
        ({"role": "viewer", "namespace": "a" * 64}, "/namespace"),
        ({"role": "viewer", "expires_at": "tomorrow"}, "/expires_at"),
        ({"role": ["viewer"]}, "/role"),
        ({"role": "viewer", "extra": 1}, "/extra"),
    ):
        response = await api.post("/keys", json=body, headers=ADMIN)
        assert response.status == 422, body
        assert (await response.json())["error"]["details"]["field"] == field, body


async def test_the_bootstrap_token_acts_in_the_namespace_its_header_names(db: Pool, aiohttp_client: Client) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    team = await make_key(api, "editor", namespace="team-a")
    definition = {"name": "theirs", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
    assert (await api.post("/workflows", json=definition, headers=bearer(team))).status == 201
    assert (await (await api.get("/workflows", headers=ADMIN)).json())["items"] == []
    there = await api.get("/workflows", headers=ADMIN | {"Conveyor-Namespace": "team-a"})
    assert [w["name"] for w in (await there.json())["items"]] == ["theirs"]
    for bad in ("Team-A", "", "a" * 64, "../etc"):
        refused = await api.get("/workflows", headers=ADMIN | {"Conveyor-Namespace": bad})
        assert refused.status == 422, bad
        assert (await refused.json())["error"]["details"]["field"] == "Conveyor-Namespace"
