"""Per-namespace quotas: past its starts per minute or its executions alive, a namespace's start is 429 with
Retry-After, and another namespace is not held back."""

from __future__ import annotations

import dataclasses

from conveyor.http.app import create_app
from conveyor.store import Pool
from conveyor.store.executions import in_namespace
from conveyor.store.selection import Selection, list_query
from tests.integration.conftest import ApiClient, flow
from tests.integration.test_roles import Client, access_settings, bearer, make_key


async def _setup(
    db: Pool, aiohttp_client: Client, starts: int | None = None, alive: int | None = None
) -> tuple[ApiClient, dict[str, str], dict[str, str]]:
    settings = dataclasses.replace(access_settings(), quota_starts_per_minute=starts, quota_alive=alive)
    api = await aiohttp_client(create_app(db, settings))
    keys, workflows = {}, {}
    for ns in ("team-a", "team-b"):
        keys[ns] = await make_key(api, "editor", ns)
        definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="slow")
        created = await api.post("/workflows", json=definition, headers=bearer(keys[ns]))
        workflows[ns] = (await created.json())["id"]
    return api, keys, workflows


async def test_past_its_starts_per_minute_a_namespace_is_429_with_retry_after(db: Pool, aiohttp_client: Client) -> None:
    api, keys, workflows = await _setup(db, aiohttp_client, starts=3)
    start = {ns: f"/workflows/{workflows[ns]}/executions" for ns in keys}
    for _ in range(3):
        assert (await api.post(start["team-a"], json={}, headers=bearer(keys["team-a"]))).status == 201
    refused = await api.post(start["team-a"], json={}, headers=bearer(keys["team-a"]))
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = (await refused.json())["error"]
    assert (error["code"], error["details"]["quota"], error["details"]["limit"]) == (
        "quota_exceeded",
        "starts_per_minute",
        3,
    )
    listed = await (await api.get("/executions", headers=bearer(keys["team-a"]))).json()
    assert len(listed["items"]) == 3  # nothing started by the refused call
    assert (await api.post(start["team-b"], json={}, headers=bearer(keys["team-b"]))).status == 201


async def test_past_its_executions_alive_a_namespace_is_429_until_one_ends(db: Pool, aiohttp_client: Client) -> None:
    api, keys, workflows = await _setup(db, aiohttp_client, alive=2)
    start, key = f"/workflows/{workflows['team-a']}/executions", bearer(keys["team-a"])
    first = await (await api.post(start, json={}, headers=key)).json()
    assert (await api.post(start, json={}, headers=key)).status == 201
    refused = await api.post(start, json={}, headers=key)
    assert refused.status == 429
    assert refused.headers["Retry-After"] == "5"
    assert (await refused.json())["error"]["details"]["quota"] == "alive"
    operator = await make_key(api, "operator", "team-a")
    assert (await api.post(f"/executions/{first['id']}/cancel", headers=bearer(operator))).status == 200
    assert (await api.post(start, json={}, headers=key)).status == 201


async def test_another_namespaces_reads_use_its_partial_indexes(db: Pool) -> None:
    """The default namespace's executions are in no namespace index; another's list and quota reads use them."""
    async with db.acquire() as conn:
        selection = Selection(namespace="team-a")
        sql, args = list_query(selection, None, 51)
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            listed = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
            used = await conn.fetchval(
                "EXPLAIN (FORMAT JSON) SELECT 1 FROM executions WHERE "
                + in_namespace("team-a").replace(":namespace", "$1")
                + " AND finished_at IS NULL",
                "team-a",
            )
    assert "executions_namespace_idx" in str(listed)
    assert "executions_alive_idx" in str(used) or "executions_namespace_idx" in str(used)
