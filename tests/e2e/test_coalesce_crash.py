"""A worker that dies while it starts a coalescing group loses nothing: the next worker starts the group once."""

from __future__ import annotations

from conveyor.commands.operations import create_workflow
from conveyor.commands.triggers import create_trigger, post_event
from conveyor.failpoints import CRASH_EXIT_STATUS
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.e2e.harness import DEADLINE_SECONDS, SpawnWorker


async def test_a_worker_killed_inside_a_group_start_leaves_the_group_to_the_next_one_started_once(
    db: Pool, spawn_worker: SpawnWorker
) -> None:
    flow = {"name": "digest", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
    await create_workflow(db, flow)
    coalesce = {"key": "{{ payload.user }}", "quiet": "200ms", "max_wait": "5s", "payload": "all"}
    trigger = await create_trigger(db, "digest", {"type": "event", "event": "visit", "coalesce": coalesce})
    for n in range(5):
        await post_event(db, "visit", {"user": "ann", "n": n}, None)

    # It takes the rows into their group, then dies (as under SIGKILL) with the group's start uncommitted.
    crashing = spawn_worker("crashing", CONVEYOR_FAILPOINTS="in_coalesce:crash")
    assert await crashing.wait() == CRASH_EXIT_STATUS
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM executions") == 0
        assert await conn.fetchval("SELECT count(*) FROM coalesce_groups") == 1

    spawn_worker("successor")

    async def started() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM coalesce_groups") == 0)

    await poll_until(started, "the group to start", DEADLINE_SECONDS)
    async with db.acquire() as conn:
        inputs = await conn.fetch("SELECT input FROM executions WHERE trigger_id = $1", trigger.id)
        rows = await conn.fetch(
            "SELECT outcome, execution_id FROM trigger_events WHERE trigger_id = $1 ORDER BY id", trigger.id
        )
    assert [r["input"]["count"] for r in inputs] == [5]
    assert [r["input"]["payloads"] for r in inputs] == [[{"user": "ann", "n": n} for n in range(5)]]
    [(execution_id,)] = {(r["execution_id"],) for r in rows}
    assert {r["outcome"] for r in rows} == {"coalesced"}
    assert execution_id is not None
