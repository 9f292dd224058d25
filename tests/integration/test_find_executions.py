"""GET /executions: filters, keyset pages that stay stable while rows arrive, an index for each filter."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from bench.seed import start_many
from conveyor.store import Pool
from conveyor.store.selection import Selection, list_query
from tests.integration.conftest import ApiClient, flow
from tests.pages import all_ids
from tests.plans import index_names_in_page_order


async def _workflow(api: ApiClient, name: str) -> dict[str, object]:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, name=name)
    return dict(await (await api.post("/workflows", json=definition)).json())


async def _all_pages(api: ApiClient, query: str, limit: int, cursor: str | None = None) -> list[str]:
    return await all_ids(api, "/executions", query, limit, cursor)


async def test_pages_cover_every_match_once_newest_first_while_rows_arrive(api: ApiClient, db: Pool) -> None:
    wf = await _workflow(api, "listed")
    await start_many(db, uuid.UUID(str(wf["id"])), "a", 25)  # one statement: all share created_at, ids break ties
    first = await (await api.get("/executions?workflow=listed&limit=10")).json()
    await start_many(db, uuid.UUID(str(wf["id"])), "a", 5)  # newer than the cursor: not in later pages
    rest = await _all_pages(api, "workflow=listed", 10, first["next_cursor"])
    seen = [e["id"] for e in first["items"]] + rest
    assert len(seen) == len(set(seen)) == 25
    everything = await _all_pages(api, "workflow=listed", 7)
    assert len(everything) == 30
    assert everything[5:] == seen


async def test_filters_narrow_the_list(api: ApiClient, db: Pool) -> None:
    one, other = await _workflow(api, "one"), await _workflow(api, "other")
    started = await (await api.post(f"/workflows/{one['id']}/executions", json={"input": {}})).json()
    await api.post(f"/workflows/{other['id']}/executions", json={"input": {}})
    await api.post(f"/executions/{started['id']}/cancel")
    assert await _all_pages(api, f"workflow={one['id']}", 100) == [started["id"]]
    assert await _all_pages(api, "state=cancelled", 100) == [started["id"]]
    assert len(await _all_pages(api, "state=cancelled,idle", 100)) == 2
    assert await _all_pages(api, "state=idle&workflow=one", 100) == []
    created = datetime.fromisoformat(started["created_at"])
    after = quote((created - timedelta(seconds=1)).isoformat())
    assert len(await _all_pages(api, f"created_after={after}", 100)) == 2
    assert await _all_pages(api, f"created_before={after}", 100) == []
    assert await _all_pages(api, f"parent={started['id']}", 100) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=nosuchstate", "state"),
        ("state=,", "state"),
        ("state=idle,bogus", "state"),
        ("workflow=nosuchworkflow", "workflow"),
        ("workflow=%00", "workflow"),
        ("created_after=yesterday", "created_after"),
        ("created_before=99999-01-01", "created_before"),
        ("parent=42", "parent"),
        ("limit=-5", "limit"),
        ("limit=1001", "limit"),
        ("limit=1e3", "limit"),
        ("limit=99999999999999999999999999", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=%00%00", "cursor"),
        ("cursor=WyJub3QgYSB0aW1lIiwgIngiXQ", "cursor"),  # ["not a time", "x"]
        ("cursor=WyIyMDMwLTAxLTAxVDAwOjAwOjAwIiwgIjEiXQ", "cursor"),  # naive time
    ],
)
async def test_bad_filter_values_are_422_naming_the_parameter(api: ApiClient, query: str, field: str) -> None:
    response = await api.get(f"/executions?{query}")
    assert response.status == 422, await response.text()
    assert (await response.json())["error"]["details"]["field"] == field


@pytest.mark.parametrize(
    ("selection", "index"),
    [
        (Selection(), "executions_created_idx"),
        (Selection(created_after=datetime(2020, 1, 1, tzinfo=UTC)), "executions_created_idx"),
        (Selection(workflow_id=uuid.uuid4()), "executions_workflow_idx"),
        (Selection(states=("failed",)), "executions_state_idx"),
        (Selection(parent_id=uuid.uuid4()), "executions_parent_idx"),
    ],
)
async def test_each_filter_is_served_by_an_index_in_page_order(db: Pool, selection: Selection, index: str) -> None:
    after = (datetime.now(UTC), uuid.uuid4())
    sql, args = list_query(selection, after, 101)
    async with db.acquire() as conn, conn.transaction():
        # The test tables are tiny, where scanning or sorting everything is cheapest: ask the planner to show
        # the plan it picks at scale, then check that an index gives the rows in page order.
        await conn.execute("SET LOCAL enable_seqscan = off")
        await conn.execute("SET LOCAL enable_bitmapscan = off")
        await conn.execute("SET LOCAL enable_sort = off")
        plan = await conn.fetchval("EXPLAIN (FORMAT JSON) " + sql, *args)
    assert index in index_names_in_page_order(plan)
