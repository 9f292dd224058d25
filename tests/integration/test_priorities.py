"""Priorities through a real worker: a priority 10 start overtakes a backlog of priority 0 ones, which all still
finish; waiting ages a row, so no stream of urgent starts starves it; the API refuses a priority out of range."""

from __future__ import annotations

import pytest

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.engine.claim import claim_due
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, wait_until_ended

_NOOP: JSONObject = {"id": "work", "type": "action", "action": "noop"}
_BACKLOG = """
INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at)
SELECT gen_random_uuid(), $1, 1, 'idle', 'work', 1, 1, '{}', now() FROM generate_series(1, $2)
"""
_FINISHED = "SELECT count(*) FROM executions WHERE finished_at IS NOT NULL AND priority = 0"


async def test_a_priority_10_start_overtakes_a_backlog_of_5000_and_the_backlog_still_finishes(
    db: Pool, worker: Worker
) -> None:
    workflow = await create_workflow(db, flow(_NOOP))
    async with db.acquire() as conn:
        await conn.execute(_BACKLOG, workflow.id, 5000)
    urgent, _ = await start_execution(db, str(workflow.id), {}, priority=10)
    done = await wait_until_ended(db, urgent.id, timeout=30)
    async with db.acquire() as conn:
        finished_before = await conn.fetchval(_FINISHED)
    assert done.state == "completed"
    assert finished_before < 1000  # it did not wait its turn behind the 5,000

    async def backlog_done() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval(_FINISHED) == 5000)

    await poll_until(backlog_done, "the backlog to finish", timeout_seconds=120)


async def test_a_row_due_long_enough_goes_ahead_of_a_fresh_urgent_one(db: Pool) -> None:
    workflow = await create_workflow(db, flow(_NOOP))
    async with db.acquire() as conn:
        old = await conn.fetchval(
            "INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, wake_at, priority)"
            " VALUES (gen_random_uuid(), $1, 1, 'idle', 'work', now() - interval '6 minutes', -1) RETURNING id",
            workflow.id,
        )
        await conn.execute(
            "INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, wake_at, priority)"
            " SELECT gen_random_uuid(), $1, 1, 'idle', 'work', now(), 10 FROM generate_series(1, 5)",
            workflow.id,
        )
    [first] = await claim_due(db, "worker-a", 1, 30.0)
    assert first.id == old  # 6 minutes of waiting are 12 levels: -1 + 12 > 10
    taken = await claim_due(db, "worker-a", 5, 30.0)
    assert {e.priority for e in taken} == {10}


async def test_branches_and_items_take_their_parents_priority(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "each", "type": "foreach", "items": [1, 2], "branch": "t", "next": None},
        {"id": "t", "type": "transform", "set": {"v": 1}},
    )
    workflow = await create_workflow(db, definition)
    parent, _ = await start_execution(db, str(workflow.id), {}, priority=7)
    await wait_until_ended(db, parent.id)
    async with db.acquire() as conn:
        priorities = await conn.fetch("SELECT priority FROM executions WHERE parent_id = $1", parent.id)
    assert [r["priority"] for r in priorities] == [7, 7]


@pytest.mark.parametrize("priority", [11, -11, "5", 1.5, True, None])
async def test_a_priority_out_of_range_or_not_an_integer_is_422(api: ApiClient, priority: object) -> None:
    workflow = await (await api.post("/workflows", json=flow(_NOOP))).json()
    response = await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}, "priority": priority})
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/priority"


async def test_the_execution_answer_shows_its_priority(api: ApiClient) -> None:
    workflow = await (await api.post("/workflows", json=flow(_NOOP))).json()
    response = await api.post(f"/workflows/{workflow['id']}/executions", json={"priority": -3})
    assert response.status == 201
    assert (await response.json())["priority"] == -3
