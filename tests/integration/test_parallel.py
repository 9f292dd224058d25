"""The parallel node through a real worker: branches run side by side as child executions up to the join, which
sees their outputs; with `any`, the slower branch is cancelled with a history row saying why."""

from __future__ import annotations

import pytest

from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.history import list_history, list_steps
from tests.integration.conftest import ApiClient, flow, run_flow, wait_until_ended


def _noop(node_id: str, next_: str | None, **params: object) -> JSONObject:
    return {"id": node_id, "type": "action", "action": "noop", "next": next_, "params": params}


async def test_all_branches_run_to_the_join_which_sees_each_output(db: Pool, worker: Worker) -> None:
    definition = flow(
        _noop("before", "fork", seen="{{ input.n }}"),
        {"id": "fork", "type": "parallel", "branches": ["left", "right", "mid"], "join": "join", "next": None},
        _noop("left", "left2", side="l{{ steps.before.output.seen }}"),
        _noop("left2", "join", side="{{ steps.left.output.side }}2"),
        _noop("right", "join", side="r"),
        {"id": "mid", "type": "transform", "set": {"side": "m"}, "next": "join"},
        _noop("join", None, got="{{ steps.fork.output.branches }}"),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"n": 7})).id)
    assert ex.state == "completed"
    assert ex.output == {"got": {"left": {"side": "l72"}, "right": {"side": "r"}, "mid": {"side": "m"}}}
    async with db.acquire() as conn:
        children = await conn.fetch("SELECT id, state FROM executions WHERE parent_id = $1", ex.id)
        steps = await list_steps(conn, ex.id)
    assert sorted(c["state"] for c in children) == ["completed"] * 3
    assert [s.node for s in steps] == ["before", "fork", "join"]  # the branches' steps are their own


async def test_any_completes_with_the_first_branch_and_cancels_the_slower_one(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "race", "type": "parallel", "branches": ["fast", "slow"], "join": "after", "mode": "any", "next": None},
        _noop("fast", "after", won=True),
        {"id": "slow", "type": "delay", "duration": "1h", "next": "after"},
        _noop("after", None, got="{{ steps.race.output.branches }}"),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"got": {"fast": {"won": True}}}
    async with db.acquire() as conn:
        slow = await conn.fetchrow(
            "SELECT id, state FROM executions WHERE parent_id = $1 AND dedupe_key LIKE '%:2'", ex.id
        )
        assert slow is not None
        history = await list_history(conn, slow["id"])
    assert slow["state"] == "cancelled"
    last = history[-1]
    assert (last.to_state, last.event) == ("cancelled", "cancel")
    assert isinstance(last.detail, dict)
    assert (last.detail["by"], last.detail["node"]) == ("parallel", "race")
    assert "was met" in last.detail["reason"]


async def test_at_least_fails_when_too_many_branches_fail(db: Pool, worker: Worker) -> None:
    bad: JSONObject = {"id": "bad", "type": "transform", "set": {"x": {"rule": {"throw": "no"}}}, "next": None}
    definition = flow(
        {"id": "fork", "type": "parallel", "branches": ["ok", "bad"], "mode": {"at_least": 2}, "next": None},
        _noop("ok", None),
        bad,
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert "1 branches completed, 2 needed" in ex.error["message"]


async def test_a_join_of_null_ends_the_execution_after_the_branches(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "fork", "type": "parallel", "branches": ["a", "b"], "next": None},
        _noop("a", None, v=1),
        _noop("b", None, v=2),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"branches": {"a": {"v": 1}, "b": {"v": 2}}}


@pytest.mark.parametrize(
    ("fork", "field"),
    [
        ({"branches": []}, "/nodes/0/branches"),
        ({"branches": "a"}, "/nodes/0/branches"),
        ({"branches": ["a", "a"]}, "/nodes/0"),
        ({"branches": ["a", "nowhere"]}, "/nodes/0/branches/1"),
        ({"branches": ["a", "b"], "join": "a"}, "/nodes/0/join"),
        ({"branches": ["a", "b"], "mode": {"at_least": 3}}, "/nodes/0"),
        ({"branches": ["a", "b"], "mode": {"at_least": 0}}, "/nodes/0/mode"),
        ({"branches": ["a", "b"], "mode": {"at_least": -1}}, "/nodes/0/mode"),
        ({"branches": ["a", "b"], "mode": {"at_least": "2"}}, "/nodes/0/mode"),
        ({"branches": ["a", "b"], "mode": "some"}, "/nodes/0/mode"),
        ({"branches": ["a", "b"], "next": "j"}, "/nodes/0"),
        ({"branches": [f"n{i}" for i in range(101)]}, "/nodes/0/branches"),
    ],
)
async def test_hostile_parallel_nodes_are_422_naming_the_field(api: ApiClient, fork: JSONObject, field: str) -> None:
    definition = flow(
        {"id": "fork", "type": "parallel", "next": None, **fork},
        _noop("a", "j"),
        _noop("b", None),
        _noop("j", None),
    )
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field


async def test_a_branch_that_leads_back_to_its_fork_is_refused(api: ApiClient) -> None:
    definition = flow(
        {"id": "fork", "type": "parallel", "branches": ["a"], "join": "j", "next": None},
        {"id": "a", "type": "condition", "rule": True, "then": "j", "else": "fork"},
        _noop("j", None),
    )
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == "/nodes/0/branches/0"


async def test_a_branch_whose_error_path_is_the_join_ends_there_and_the_join_runs_once(
    db: Pool, worker: Worker
) -> None:
    bad: JSONObject = {"id": "bad", "type": "transform", "set": {"x": {"rule": {"throw": "no"}}}, "on_error": "join"}
    definition = flow(
        {"id": "fork", "type": "parallel", "branches": ["ok", "bad"], "join": "join", "next": None},
        _noop("ok", "join", v=1),
        {**bad, "next": "join"},
        _noop("join", None, got="{{ steps.fork.output.branches }}"),
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"got": {"ok": {"v": 1}, "bad": None}}
    async with db.acquire() as conn:
        joins = await conn.fetchval(
            "SELECT count(*) FROM execution_steps s JOIN executions e ON e.id = s.execution_id"
            " WHERE (e.id = $1 OR e.parent_id = $1) AND s.node = 'join'",
            ex.id,
        )
    assert joins == 1
