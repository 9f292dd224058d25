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
