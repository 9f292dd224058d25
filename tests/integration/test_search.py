"""Finding executions: by the start of an id, by a field of the input (served by an index, among 10,000), by
error text; in the API and in the dashboard, with time presets, duration and error columns."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from conveyor.engine.worker import Worker
from conveyor.http.selection import SelectionQuery
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.selection import list_query
from tests.browser import Page
from tests.dashboard import ended, shoot_both, start
from tests.integration.conftest import ApiClient, flow
from tests.pages import all_ids

_MANY = """
INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, input, created_at)
SELECT gen_random_uuid(), :workflow_id, 1, 'completed', NULL,
       jsonb_build_object('email', 'user-' || g || '@example.com', 'n', g, 'user', jsonb_build_object('plan', 'free')),
       now() - g * interval '1 second'
FROM generate_series(1, :count) AS g
"""


async def _workflow(api: ApiClient, name: str) -> JSONObject:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, name=name)
    workflow: JSONObject = await (await api.post("/workflows", json=definition)).json()
    return workflow


async def _seed(db: Pool, workflow_id: object, count: int) -> None:
    async with db.acquire() as conn:
        sql = _MANY.replace(":workflow_id", "$1").replace(":count", "$2")
        await conn.execute(sql, uuid.UUID(str(workflow_id)), count)
        await conn.execute("ANALYZE executions")


async def test_an_input_field_finds_its_execution_among_ten_thousand(api: ApiClient, db: Pool) -> None:
    workflow = await _workflow(api, "searched")
    await _seed(db, workflow["id"], 10_000)
    assert len(await all_ids(api, "/executions", "input=email=user-7777@example.com", 50)) == 1
    assert len(await all_ids(api, "/executions", "input=input.n=7777", 50)) == 1  # a number, as typed
    assert len(await all_ids(api, "/executions", "input=user.plan=free", 1000)) == 10_000
    assert await all_ids(api, "/executions", "input=email=nobody@example.com", 50) == []


async def test_an_input_field_may_be_named_in_any_script_and_its_value_hold_anything(api: ApiClient, db: Pool) -> None:
    workflow = await _workflow(api, "unicode-input")
    started = await api.post(
        f"/workflows/{workflow['id']}/executions", json={"input": {"prénom": "Zoë = 1 & 2", "数": {"深": "é"}}}
    )
    execution_id = (await started.json())["id"]
    for query in ("prénom=Zoë = 1 & 2", "数.深=é", "input.数.深=é"):
        assert await all_ids(api, "/executions", f"input={quote(query)}", 50) == [execution_id], query


async def test_an_input_search_is_served_by_the_input_index(db: Pool) -> None:
    async with db.acquire() as conn:
        selection = await SelectionQuery(input="email=ada@example.com").selection(conn, "default")
        sql, args = list_query(selection, (datetime.now(UTC), uuid.uuid4()), 51)
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off")
            plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    assert "executions_input_email_idx" in str(plan)  # the few rows it finds are sorted after


async def test_an_id_prefix_and_error_text_find_executions(api: ApiClient, worker: Worker) -> None:
    failing = flow({"id": "boom", "type": "webhook", "url": "http://127.0.0.1:9/nothing-listens"}, name="failing")
    workflow = await (await api.post("/workflows", json=failing)).json()
    execution_id = await start(api, workflow["id"])
    assert await ended(api, execution_id) == "failed"
    assert await all_ids(api, "/executions", f"id={execution_id[:6]}", 50) == [execution_id]
    assert await all_ids(api, "/executions", f"id={execution_id.upper()}", 50) == [execution_id]
    error = (await (await api.get(f"/executions/{execution_id}")).json())["error"]["message"]
    word = error.split()[0]
    assert execution_id in await all_ids(api, "/executions", f"error={word.upper()}", 50)
    assert await all_ids(api, "/executions", "error=100%25_no_such_text", 50) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("id=xyz", "id"),
        ("id=", "id"),
        ("id=" + "a" * 40, "id"),
        ("input=email", "input"),
        ("input==x", "input"),
        ("input=a..b=1", "input"),
        ("input=" + "a." * 9 + "a=1", "input"),
        ("input=na%20me=1", "input"),
        ("input=a%01b=1", "input"),
        ("error=", "error"),
        ("error=" + "x" * 201, "error"),
    ],
)
async def test_bad_search_values_are_422_naming_the_parameter(api: ApiClient, query: str, field: str) -> None:
    response = await api.get(f"/executions?{query}")
    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["details"]["field"] == field


async def test_the_dashboard_finds_by_input_shows_duration_and_error_and_names_a_workflow_filter(
    api: ApiClient, db: Pool, page: Page
) -> None:
    workflow = await _workflow(api, "searched-in-the-browser")
    await _seed(db, workflow["id"], 10_000)
    await page.goto(str(api.make_url("/#/executions?workflow=searched-in-the-browser")))
    shown = "document.getElementById('f-workflow').selectedOptions[0].textContent"
    assert await page.wait_for(shown, "the workflow named in the URL") == "searched-in-the-browser"

    await page.evaluate("document.getElementById('f-input').value = 'email=user-4242@example.com'")
    await page.evaluate("document.querySelector('form.filters').requestSubmit()")
    rows = "[...document.querySelectorAll('#executions tr[data-id]')]"
    await page.wait_for(f"{rows}.length === 1", "the one execution found")
    assert "input=email%3Duser-4242%40example.com" in await page.evaluate("location.hash")
    await shoot_both(page, "executions-search")

    await page.evaluate("document.getElementById('f-input').value = ''")
    await page.evaluate("document.getElementById('f-since').value = '15m'")
    await page.evaluate("document.querySelector('form.filters').requestSubmit()")
    await page.wait_for(f"{rows}.length === 50 && location.hash.includes('since=15m')", "the last 15 minutes")
    newest = await page.evaluate(f"{rows}[0].querySelector('td.duration').textContent")
    assert newest == ""  # never started: no duration
