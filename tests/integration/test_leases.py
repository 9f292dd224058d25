"""Fencing: a worker that lost its lease changes nothing."""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.db import Pool
from conveyor.engine.store.history import list_steps
from conveyor.engine.worker import Worker
from tests.integration.conftest import flow, run_flow


async def test_a_worker_whose_lease_was_taken_commits_nothing(db: Pool, worker: Worker) -> None:
    arrived, release = asyncio.Event(), asyncio.Event()

    async def hold(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hold", hold)
    async with TestServer(app, host="127.0.0.1") as server:
        ex = await run_flow(db, flow({"id": "call", "type": "webhook", "url": str(server.make_url("/hold"))}))
        await asyncio.wait_for(arrived.wait(), 10)
        async with db.acquire() as conn:
            # Another worker takes over, as it would after this one's lease lapsed.
            await conn.execute(
                "UPDATE executions SET lease_owner = 'thief', version = version + 1, "
                "wake_at = now() + interval '1 hour', lease_expires_at = now() + interval '1 hour' WHERE id = $1",
                ex.id,
            )
        release.set()
        await asyncio.sleep(0.5)
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT state, lease_owner FROM executions WHERE id = $1", ex.id)
        steps = await list_steps(conn, ex.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("running", "thief")
    assert steps == []


async def test_the_wake_channel_comes_back_after_its_connection_is_killed(db: Pool, worker: Worker) -> None:
    from tests.integration.conftest import wait_until_ended

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
