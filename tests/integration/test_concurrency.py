"""Concurrency caps: per key and in total, enforced by the claim from leased rows; a dead worker's slot lapses."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import asyncpg

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.engine.claim import claim_due
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import COMPLETED
from conveyor.store import Pool
from conveyor.store.claims import _CLAIM, claim_args
from conveyor.store.executions import Execution
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, history_events, running_worker, wait_until_ended

NOOP = {"id": "work", "type": "action", "action": "noop"}


def capped(key_limit: int | None = 1, total: int | None = None) -> JSONObject:
    """A one-step workflow, capped per `input.user` and in total as asked."""
    definition = flow(NOOP)
    if key_limit is not None:
        definition["concurrency"] = {"key": "{{ input.user }}", "limit": key_limit}
    if total is not None:
        definition["limit"] = total
    return definition


async def start_many(db: Pool, definition: JSONObject, users: list[str]) -> list[Execution]:
    workflow = await create_workflow(db, definition)
    return [(await start_execution(db, str(workflow.id), {"user": u}))[0] for u in users]


async def test_a_key_at_its_limit_holds_its_executions_back_and_says_why(db: Pool, api: ApiClient) -> None:
    first, second, third, other = await start_many(db, capped(1), ["ann", "ann", "ann", "bob"])

    claimed = await claim_due(db, "worker-a", 10, 30.0)

    assert {e.id for e in claimed} == {first.id, other.id}
    assert await claim_due(db, "worker-b", 10, 30.0) == []
    shown = await (await api.get(f"/executions/{second.id}")).json()
    assert shown["concurrency_key"] == "ann"
    assert shown["waiting_for_slot"] == {"key": "ann", "limit": 1}
    running = await (await api.get(f"/executions/{first.id}")).json()
    assert running["waiting_for_slot"] is None
    listed = await (await api.get(f"/executions?workflow={first.workflow_id}")).json()
    assert sorted(str(e["waiting_for_slot"]) for e in listed["items"]).count(str({"key": "ann", "limit": 1})) == 2
    assert third.id not in {e.id for e in claimed}


async def test_a_total_limit_caps_a_workflow_without_a_key(db: Pool, api: ApiClient) -> None:
    executions = await start_many(db, capped(None, total=2), ["a", "b", "c", "d", "e"])

    claimed = await claim_due(db, "worker-a", 10, 30.0)

    assert [e.id for e in claimed] == [e.id for e in executions[:2]]
    shown = await (await api.get(f"/executions/{executions[4].id}")).json()
    assert shown["waiting_for_slot"] == {"key": None, "limit": 2}


async def test_workers_claiming_at_once_never_exceed_a_keys_limit(db: Pool) -> None:
    await start_many(db, capped(2), ["ann"] * 30)

    claims = await asyncio.gather(*(claim_due(db, f"worker-{n}", 5, 30.0) for n in range(10)))

    assert sum(len(c) for c in claims) == 2


async def test_a_killed_workers_slot_comes_back_when_its_lease_lapses(
    db: Pool, database_url: str, settings: Settings
) -> None:
    executions = await start_many(db, capped(1), ["ann"] * 3)
    # A worker that claims and then dies: it never finishes, never renews, never hands back.
    [held] = await claim_due(db, "dead-worker", 10, 1.0)
    assert held.id == executions[0].id

    async with running_worker(db, database_url, settings):
        ended = [await wait_until_ended(db, e.id) for e in executions]

    assert [e.state for e in ended] == [COMPLETED] * 3
    assert "reclaim" in await history_events(db, held.id)
    async with db.acquire() as conn:
        runs = await conn.fetch(
            "SELECT started_at, finished_at FROM execution_steps WHERE execution_id = ANY($1) ORDER BY started_at",
            [e.id for e in executions],
        )
    assert all(a["finished_at"] <= b["started_at"] for a, b in itertools.pairwise(runs))


async def test_a_lapsed_lease_stops_counting_and_its_execution_is_claimed_again(db: Pool) -> None:
    executions = await start_many(db, capped(1), ["ann"] * 2)
    [held] = await claim_due(db, "dead-worker", 10, 0.5)
    assert await claim_due(db, "live-worker", 10, 30.0) == []

    async def reclaimed() -> list[Execution]:
        return await claim_due(db, "live-worker", 10, 30.0)

    again = await poll_until(reclaimed, "the lapsed execution to be claimed again")

    # The slot is free again: one of the two (the one due longest) takes it, and only one.
    assert len(again) == 1
    assert again[0].id in {e.id for e in executions}
    assert held.id == executions[0].id
    assert await claim_due(db, "other-worker", 10, 30.0) == []


async def test_a_trigger_started_execution_takes_its_key_and_a_bad_key_is_an_error_row(
    db: Pool, api: ApiClient, worker: object
) -> None:
    workflow = await create_workflow(db, capped(1))
    response = await api.post(f"/workflows/{workflow.id}/triggers", json={"type": "event", "event": "signup"})
    assert response.status == 201, await response.text()
    trigger_id = (await response.json())["id"]
    await api.post("/events", json={"type": "signup", "payload": {"user": "ann"}})
    await api.post("/events", json={"type": "signup", "payload": {"name": "no user"}})

    async def outcomes() -> dict[str, str | None] | None:
        async with db.acquire() as conn:
            rows = await conn.fetch(
                "SELECT outcome, reason FROM trigger_events WHERE trigger_id = $1 AND consumed_at IS NOT NULL",
                uuid.UUID(trigger_id),
            )
        return {r["outcome"]: r["reason"] for r in rows} if len(rows) == 2 else None

    seen = await poll_until(outcomes, "both rows consumed")
    assert seen is not None
    assert set(seen) == {"started", "error"}
    assert "concurrency key" in (seen["error"] or "")
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT slot_key FROM executions WHERE workflow_id = $1", workflow.id) == "ann"


async def test_the_claim_of_executions_without_caps_walks_the_due_index(db: Pool) -> None:
    workflow = await create_workflow(db, flow(NOOP))
    async with db.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, wake_at)
            SELECT gen_random_uuid(), $1, 1, 'idle', 'work', now() + make_interval(secs => n % 100 - 50)
            FROM generate_series(1, 20000) n
            """,
            workflow.id,
        )
        await conn.execute("ANALYZE executions")
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {_CLAIM.sql}", *claim_args("worker-a", 100, 30.0, [], [])
        )
        assert await conn.fetchval("SELECT count(*) FROM executions WHERE lease_owner = 'worker-a'") == 100
    text = str(plan)
    assert "executions_due_idx" in text
    assert "Seq Scan" not in text
    # 100 rows taken and their history written; a generous bound on a shared machine, typically a few ms.
    assert plan[0]["Execution Time"] < 50.0


async def test_a_capped_execution_whose_lease_ends_wakes_every_worker(db: Pool, database_url: str) -> None:
    capped_one = (await start_many(db, capped(1), ["ann"]))[0]
    uncapped = (await start_many(db, flow(NOOP), ["bob"]))[0]
    claimed = await claim_due(db, "worker-a", 10, 30.0)
    assert {e.id for e in claimed} == {capped_one.id, uncapped.id}
    heard: list[str] = []
    listener = await asyncpg.connect(database_url)
    try:
        await listener.add_listener("conveyor_wake", lambda *args: heard.append(args[2]))
        async with db.acquire() as conn:
            # a step's end as the step commit writes it: the lease dropped, a due time set
            for ex in (uncapped, capped_one):
                await conn.execute(
                    "UPDATE executions SET lease_owner = NULL, wake_at = now() + interval '1 hour' WHERE id = $1", ex.id
                )
        # notifications arrive in commit order: the capped one's, and none before it for the uncapped one
        await poll_until(lambda: heard, "a wake-up for the freed slot")
        assert heard == ["conveyor_wake"]
    finally:
        await listener.close()


async def test_a_shared_flows_children_run_under_the_shared_workflows_caps(db: Pool, database_url: str) -> None:
    shared = await create_workflow(db, capped(1))
    parent = await create_workflow(db, flow({"id": "sub", "type": "shared_flow", "flow": shared.name}))
    parents = [(await start_execution(db, str(parent.id), {"user": "ann"}))[0] for _ in range(2)]
    async with running_worker(db, database_url, Settings()):
        for ex in parents:
            assert (await wait_until_ended(db, ex.id)).state == COMPLETED
    async with db.acquire() as conn:
        children = await conn.fetch(
            "SELECT slot_key, slot_limit FROM executions WHERE parent_id = ANY($1::uuid[])", [p.id for p in parents]
        )
    assert [(c["slot_key"], c["slot_limit"]) for c in children] == [("ann", 1), ("ann", 1)]


async def test_the_claim_takes_urgent_rows_through_their_own_index_and_still_walks_the_due_index(db: Pool) -> None:
    workflow = await create_workflow(db, flow(NOOP))
    async with db.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, wake_at, priority)
            SELECT gen_random_uuid(), $1, 1, 'idle', 'work', now() + make_interval(secs => n % 100 - 50),
                   CASE WHEN n % 1000 = 0 THEN 10 ELSE 0 END
            FROM generate_series(1, 20000) n
            """,
            workflow.id,
        )
        await conn.execute("ANALYZE executions")
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {_CLAIM.sql}", *claim_args("worker-a", 100, 30.0, [], [])
        )
        taken = await conn.fetch("SELECT priority FROM executions WHERE lease_owner = 'worker-a'")
    text = str(plan)
    assert "executions_due_idx" in text
    assert "executions_urgent_idx" in text
    assert "Seq Scan" not in text
    assert len(taken) == 100
    assert sum(1 for r in taken if r["priority"] == 10) == 20  # every urgent row (all due) first
