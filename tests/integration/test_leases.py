"""Fencing: a worker that lost its lease changes nothing."""

from __future__ import annotations

import asyncio

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.history import list_steps
from tests.integration.conftest import HeldTarget, flow, run_flow, wait_until_ended


async def test_a_worker_whose_lease_was_taken_commits_nothing(
    db: Pool, worker: Worker, held_target: HeldTarget
) -> None:
    ex = await run_flow(db, flow({"id": "call", "type": "webhook", "url": held_target.url}))
    await asyncio.wait_for(held_target.arrived.wait(), 10)
    async with db.acquire() as conn:
        # Another worker takes over, as it would after this one's lease lapsed.
        await conn.execute(
            "UPDATE executions SET lease_owner = 'thief', version = version + 1, "
            "wake_at = now() + interval '1 hour' WHERE id = $1",
            ex.id,
        )
    held_target.release.set()
    await asyncio.sleep(0.5)
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT state, lease_owner FROM executions WHERE id = $1", ex.id)
        steps = await list_steps(conn, ex.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("running", "thief")
    assert steps == []


async def test_the_wake_channel_comes_back_after_its_connection_is_killed(db: Pool, worker: Worker) -> None:
    kill = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'conveyor-wake'"
    for _ in range(50):
        async with db.acquire() as conn:
            if await conn.fetchval(kill):
                break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the worker never listened")
    await asyncio.sleep(0.5)
    ex = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    # Without the NOTIFY the worker would sleep out its 30 s poll interval.
    assert (await wait_until_ended(db, ex.id, timeout=5)).state == "completed"
