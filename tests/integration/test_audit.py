"""The audit trail: every change names who made it, from where and in which request; a bulk action names each
execution it changed; the trail is append-only and read newest first, a page at a time."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow
from tests.integration.test_roles import ADMIN, Client, access_settings, bearer, make_key


@pytest.fixture
async def guarded(db: Pool, aiohttp_client: Client) -> ApiClient:
    return await aiohttp_client(create_app(db, access_settings()))


async def _entries(api: ApiClient, query: str = "") -> list[dict[str, Any]]:
    response = await api.get(f"/audit{query}", headers=ADMIN)
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def _key_id(api: ApiClient) -> str:
    listed = await (await api.get("/keys", headers=ADMIN)).json()
    return str(listed["items"][-1]["id"])


async def test_a_bulk_cancel_names_the_key_and_every_execution_it_changed(guarded: ApiClient) -> None:
    operator = await make_key(guarded, "operator")
    actor = f"key:{await _key_id(guarded)}"
    workflow = await (
        await guarded.post("/workflows", json=flow({"id": "w", "type": "delay", "duration": "1h"}), headers=ADMIN)
    ).json()
    started = [
        (await (await guarded.post(f"/workflows/{workflow['id']}/executions", json={}, headers=ADMIN)).json())["id"]
        for _ in range(5)
    ]
    response = await guarded.post(
        "/executions/bulk/cancel", json={"workflow": workflow["id"]}, headers=bearer(operator)
    )
    assert response.status == 200
    request_id = response.headers["X-Request-Id"]
    changed = await _entries(guarded, "?action=cancel")
    assert sorted(e["execution_id"] for e in changed) == sorted(started)
    assert {(e["actor"], e["request_id"]) for e in changed} == {(actor, request_id)}
    [asked] = await _entries(guarded, "?action=POST%20/executions/bulk/{event}")
    assert (asked["actor"], asked["target"], asked["status"]) == (actor, {"event": "cancel"}, 200)
    assert asked["remote"] == "127.0.0.1"
    history = await (await guarded.get(f"/executions/{started[0]}/history", headers=ADMIN)).json()
    assert history["items"][-1]["detail"] == {"by": "operator", "actor": actor, "bulk": True}


async def test_an_operator_action_is_in_the_history_and_the_trail(guarded: ApiClient) -> None:
    workflow = await (
        await guarded.post("/workflows", json=flow({"id": "w", "type": "delay", "duration": "1h"}), headers=ADMIN)
    ).json()
    execution = await (await guarded.post(f"/workflows/{workflow['id']}/executions", json={}, headers=ADMIN)).json()
    assert (await guarded.post(f"/executions/{execution['id']}/cancel", headers=ADMIN)).status == 200
    history = await (await guarded.get(f"/executions/{execution['id']}/history", headers=ADMIN)).json()
    assert history["items"][-1]["detail"] == {"by": "operator", "actor": "token"}
    about = await _entries(guarded, f"?execution={execution['id']}")
    assert [e["action"] for e in about] == ["cancel"]


async def test_every_change_is_recorded_and_no_read_or_refusal_is(guarded: ApiClient) -> None:
    viewer = await make_key(guarded, "viewer")
    created = await guarded.post(
        "/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}, name="audited"), headers=ADMIN
    )
    workflow_id = (await created.json())["id"]
    await guarded.put("/secrets/AUDITED", json={"value": "value-one"}, headers=ADMIN)
    await guarded.get("/workflows", headers=bearer(viewer))
    assert (await guarded.delete("/secrets/AUDITED", headers=bearer(viewer))).status == 403
    assert (await guarded.delete("/secrets/NONE", headers=ADMIN)).status == 404
    actions = [(e["action"], e["target"], e["status"]) for e in await _entries(guarded)]
    assert actions == [
        ("PUT /secrets/{secret}", {"secret": "AUDITED", "name": "AUDITED"}, 201),
        ("POST /workflows", {"id": workflow_id, "name": "audited"}, 201),
        ("POST /keys", {"id": await _key_id(guarded)}, 201),
    ]


async def test_the_trail_is_append_only(guarded: ApiClient, db: Pool) -> None:
    await make_key(guarded, "viewer")
    async with db.acquire() as conn:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
    assert len(await _entries(guarded)) == 1


async def test_pages_walk_the_trail_newest_first_and_stay_in_the_namespace(guarded: ApiClient, db: Pool) -> None:
    for _ in range(5):
        await make_key(guarded, "viewer")
    team_admin = await make_key(guarded, "admin", namespace="team-a")
    seen: list[int] = []
    cursor = ""
    while True:
        page = await (await guarded.get(f"/audit?limit=2{cursor}", headers=ADMIN)).json()
        seen += [e["id"] for e in page["items"]]
        if not page["next_cursor"]:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(seen) == 6
    assert seen == sorted(seen, reverse=True)
    assert (await (await guarded.get("/audit", headers=bearer(team_admin))).json())["items"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("?execution=nope", "execution"), ("?since=yesterday", "since"), ("?limit=0", "limit"), ("?cursor=%%%", "cursor")],
)
async def test_bad_filters_are_422_naming_them(guarded: ApiClient, query: str, field: str) -> None:
    response = await guarded.get(f"/audit{query}", headers=ADMIN)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field
