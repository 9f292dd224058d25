"""Table polls read only what an operator granted the conveyor_poll role; everything else is a 422 naming it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.corpus import corpus
from tests.integration.conftest import ApiClient, flow

NOOP = flow({"id": "a", "type": "action", "action": "noop"})

_TABLES = """
CREATE SCHEMA IF NOT EXISTS app;
CREATE SCHEMA IF NOT EXISTS hr;
CREATE SCHEMA IF NOT EXISTS nousage;
CREATE SCHEMA IF NOT EXISTS postgres;
CREATE TABLE IF NOT EXISTS app.signups (id bigserial PRIMARY KEY, email text);
CREATE TABLE IF NOT EXISTS hr.employees (id bigserial PRIMARY KEY, email text, password_hash text);
CREATE TABLE IF NOT EXISTS postgres.employees (id bigserial PRIMARY KEY, password_hash text);
CREATE TABLE IF NOT EXISTS nousage.signups (id bigserial PRIMARY KEY, email text);
CREATE TABLE IF NOT EXISTS public.granted_signups (
    id bigserial PRIMARY KEY, email text, doc json, created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public."Signups" (id bigserial PRIMARY KEY, email text);
CREATE TABLE IF NOT EXISTS public.nokey (email text);
CREATE OR REPLACE VIEW public.signup_view AS SELECT e.id, e.password_hash FROM hr.employees e;
GRANT USAGE ON SCHEMA app TO conveyor_poll;
GRANT SELECT ON app.signups, nousage.signups, public.granted_signups, public."Signups", public.nokey, public.signup_view
    TO conveyor_poll;
"""


@pytest.fixture
async def tables(db: Pool) -> AsyncIterator[None]:
    async with db.acquire() as conn:
        await conn.execute(_TABLES)
    yield
    async with db.acquire() as conn:  # the $user schema would take every unqualified CREATE TABLE after this test
        await conn.execute("DROP SCHEMA postgres CASCADE")


async def _save(api: ApiClient, table: str, cursor: str) -> tuple[int, JSONObject]:
    response = await api.post("/workflows", json={**NOOP, "name": f"wf-{uuid.uuid4().hex[:8]}"})
    workflow = await response.json()
    definition = {"type": "poll", "table": table, "cursor": cursor, "interval": "1s"}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    body: JSONObject = await response.json()
    return response.status, body


@pytest.mark.parametrize("case", corpus("poll_tables.json", "refused", "note"))
@pytest.mark.usefixtures("tables")
async def test_a_table_polls_may_not_read_is_refused_naming_it(api: ApiClient, case: JSONObject) -> None:
    status, body = await _save(api, case["table"], case["cursor"])
    assert status == 422, body
    assert body["error"]["details"]["field"] == case["field"], body
    details = body["error"]["details"]
    named = [details.get("value"), *(e["value"] for e in details.get("errors", []))]
    assert case["table" if case["field"] == "/table" else "cursor"] in named, body


@pytest.mark.parametrize("case", corpus("poll_tables.json", "allowed", "note"))
@pytest.mark.usefixtures("tables")
async def test_a_granted_table_is_accepted(api: ApiClient, case: JSONObject) -> None:
    status, body = await _save(api, case["table"], case["cursor"])
    assert status == 201, body


@pytest.mark.usefixtures("tables")
async def test_the_refusal_names_the_grant_to_run(api: ApiClient) -> None:
    status, body = await _save(api, "hr.employees", "id")
    assert status == 422
    assert body["error"]["details"] == {"field": "/table", "value": "hr.employees"}
    assert "GRANT SELECT ON hr.employees TO conveyor_poll" in body["error"]["message"]


async def test_a_poll_reads_as_the_role_so_a_revoked_grant_stops_it(api: ApiClient, db: Pool, worker: Worker) -> None:
    table = f"g_{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await conn.execute(f"CREATE TABLE {table} (id bigserial PRIMARY KEY); GRANT SELECT ON {table} TO conveyor_poll")
    status, created = await _save(api, table, "id")
    assert status == 201, created
    async with db.acquire() as conn:
        await conn.execute(f"REVOKE SELECT ON {table} FROM conveyor_poll; INSERT INTO {table} DEFAULT VALUES")

    async def refused() -> str:
        body: JSONObject = await (await api.get(f"/triggers/{created['id']}")).json()
        return str(body["last_error"] or "") if body["status"] == "error" else ""

    assert f"GRANT SELECT ON {table} TO conveyor_poll" in await poll_until(refused, "the poll to be refused")
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM executions") == 0
