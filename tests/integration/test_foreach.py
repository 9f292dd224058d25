"""The foreach node through a real worker: every item a child execution, all started in one statement, at most
`concurrency` unended at once, results in item order."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conveyor.commands.operations import create_workflow
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow, run_flow, wait_until_ended

_UNENDED_RELEASED = """
SELECT count(*) FROM executions
WHERE parent_id = $1 AND state NOT IN ('completed', 'failed', 'cancelled') AND (wake_at IS NOT NULL OR state <> 'idle')
"""


def _double(node_id: str = "double") -> JSONObject:
    return {"id": node_id, "type": "transform", "set": {"v": {"rule": {"*": [{"var": "input.item"}, 2]}}}, "next": None}


async def _most_at_once(db: Pool, parent_id: uuid.UUID) -> int:
    """The most items whose runs overlapped, from their history: each from its first claim to its end."""
    async with db.acquire() as conn:
        rows = await conn.fetch(
            """SELECT min(h.at) FILTER (WHERE h.event = 'start') AS began, max(h.at) AS ended
               FROM execution_history h JOIN executions e ON e.id = h.execution_id
               WHERE e.parent_id = $1 GROUP BY e.id""",
            parent_id,
        )
    moments = sorted([(r["began"], 1) for r in rows] + [(r["ended"], -1) for r in rows])
    most = running = 0
    for _, step in moments:
        running += step
        most = max(most, running)
    return most


async def test_ten_thousand_items_with_concurrency_50_never_run_more_than_50_and_end_in_order(
    db: Pool, worker: Worker
) -> None:
    definition = flow(
        {"id": "each", "type": "foreach", "items": "{{ input.numbers }}", "branch": "double", "concurrency": 50},
        _double(),
        name="ten-thousand",
    )
    definition["nodes"][0]["next"] = None
    started = await run_flow(db, definition, {"numbers": list(range(10_000))})
    sampled = 0
    async with db.acquire() as conn:
        while (await conn.fetchval("SELECT state FROM executions WHERE id = $1", started.id)) not in (
            "completed",
            "failed",
        ):
            sampled = max(sampled, await conn.fetchval(_UNENDED_RELEASED, started.id))
            await asyncio.sleep(0.05)
    ex = await wait_until_ended(db, started.id)
    assert ex.state == "completed"
    assert isinstance(ex.output, dict)
    assert ex.output["results"] == [{"v": 2 * i} for i in range(10_000)]
    assert (ex.output["completed"], ex.output["failed"]) == (10_000, 0)
    assert 0 < sampled <= 50
    assert await _most_at_once(db, ex.id) <= 50


async def test_items_run_a_workflow_each_with_its_item_and_index(db: Pool, worker: Worker) -> None:
    name = f"greet-{uuid.uuid4().hex[:8]}"
    await create_workflow(
        db, flow({"id": "say", "type": "transform", "set": {"s": "{{ input.index }}:{{ input.item.name }}"}}, name=name)
    )
    definition = flow(
        {"id": "each", "type": "foreach", "items": "{{ input.people }}", "flow": name, "concurrency": 2},
        {"id": "after", "type": "action", "action": "noop", "params": {"got": "{{ steps.each.output.results }}"}},
    )
    people = [{"name": n} for n in ("ada", "bo", "cy", "di", "ed")]
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"people": people})).id)
    assert ex.state == "completed"
    assert ex.output == {"got": [{"s": f"{i}:{p['name']}"} for i, p in enumerate(people)]}
    assert await _most_at_once(db, ex.id) <= 2


def _maybe_failing() -> JSONObject:
    return {
        "id": "check",
        "type": "transform",
        "set": {"v": {"rule": {"if": [{"==": [{"var": "input.item"}, 3]}, {"throw": "three"}, {"var": "input.item"}]}}},
        "next": None,
    }


async def test_on_item_error_continue_leaves_null_in_the_failed_items_place(db: Pool, worker: Worker) -> None:
    definition = flow(
        {
            "id": "each",
            "type": "foreach",
            "items": [1, 2, 3, 4],
            "branch": "check",
            "concurrency": 2,
            "on_item_error": "continue",
            "next": None,
        },
        _maybe_failing(),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"results": [{"v": 1}, {"v": 2}, None, {"v": 4}], "completed": 3, "failed": 1}


async def test_on_item_error_fail_fails_the_node_and_cancels_the_items_not_run(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "each", "type": "foreach", "items": list(range(50)), "branch": "check", "concurrency": 1, "next": None},
        _maybe_failing(),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert ex.error["details"]["item"]["item"] == 3
    async with db.acquire() as conn:
        states = await conn.fetch(
            "SELECT state, count(*) AS n FROM executions WHERE parent_id = $1 GROUP BY state", ex.id
        )
    assert {r["state"]: r["n"] for r in states} == {"completed": 3, "failed": 1, "cancelled": 46}


async def test_an_empty_list_completes_at_once(db: Pool, worker: Worker) -> None:
    definition = flow({"id": "each", "type": "foreach", "items": [], "branch": "check", "next": None}, _maybe_failing())
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.output == {"results": [], "completed": 0, "failed": 0}


async def test_items_that_render_to_a_non_list_fail_the_step_naming_the_field(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "each", "type": "foreach", "items": "{{ input.x }}", "branch": "check", "next": None}, _maybe_failing()
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"x": {"not": "a list"}})).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert (ex.error["code"], ex.error["details"]["field"]) == ("invalid_items", "items")


@pytest.mark.parametrize(
    ("each", "field"),
    [
        ({"items": 5}, "/nodes/0/items"),
        ({"items": {"a": 1}}, "/nodes/0/items"),
        ({"items": "not a template"}, "/nodes/0/items"),
        ({"items": list(range(10_001))}, "/nodes/0/items"),
        ({"items": [], "concurrency": -1}, "/nodes/0/concurrency"),
        ({"items": [], "concurrency": 0}, "/nodes/0/concurrency"),
        ({"items": [], "concurrency": 1001}, "/nodes/0/concurrency"),
        ({"items": [], "concurrency": "5"}, "/nodes/0/concurrency"),
        ({"items": [], "on_item_error": "ignore"}, "/nodes/0/on_item_error"),
        ({"items": [], "branch": None}, "/nodes/0"),
        ({"items": [], "flow": "x"}, "/nodes/0"),
        ({"items": [], "branch": "nowhere"}, "/nodes/0/branch"),
        ({"items": "{{ input.x"}, "/nodes/0/items"),
    ],
)
async def test_hostile_foreach_nodes_are_422_naming_the_field(api: ApiClient, each: JSONObject, field: str) -> None:
    node: JSONObject = {"id": "each", "type": "foreach", "branch": "check", "next": None, **each}
    response = await api.post("/workflows", json=flow(node, _maybe_failing()))
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field


async def test_a_branch_that_leads_back_to_its_foreach_is_refused(api: ApiClient) -> None:
    definition = flow(
        {"id": "each", "type": "foreach", "items": [1], "branch": "check", "next": None},
        {**_maybe_failing(), "next": "each"},
    )
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/nodes/0/branch"
