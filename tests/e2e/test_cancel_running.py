"""A cancel over HTTP stops a step running in another process within a second, through the control channel."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from conveyor.engine.operations import create_workflow, start_execution
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.e2e.harness import SpawnWorker, WorkerProcess, wait_until

CANCEL_WITHIN_SECONDS = 1.0


@dataclass
class HangingPeer:
    """A webhook target that never answers, and notes when its caller hangs up."""

    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        """Hold the request until the caller goes away."""
        self.arrived.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.hung_up.set()
            raise
        raise AssertionError("unreachable: the wait above never ends by itself")


@pytest.fixture
async def hanging_peer() -> AsyncIterator[HangingPeer]:
    """A hanging webhook target on 127.0.0.1, its handlers cancelled when their client disconnects."""
    peer = HangingPeer()
    app = web.Application()
    app.router.add_post("/hang", peer.handle)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    peer.url = f"http://{host}:{port}/hang"
    try:
        yield peer
    finally:
        await runner.cleanup()


async def _logged(worker: WorkerProcess, event: str) -> dict[str, object]:
    async def check() -> bool:
        return bool(worker.events(event))

    await wait_until(check, f"{event} in {worker.name}'s log", timeout=10)
    return worker.events(event)[0]


async def test_cancel_over_http_aborts_a_step_running_in_a_worker_process_within_a_second(
    db: Pool,
    spawn_worker: SpawnWorker,
    hanging_peer: HangingPeer,
    aiohttp_client: Callable[..., Awaitable[TestClient]],
) -> None:
    api = await aiohttp_client(create_app(db))
    await create_workflow(
        db,
        {
            "name": "hangs",
            "start": "call",
            "nodes": [
                {"id": "call", "type": "webhook", "url": hanging_peer.url, "timeout": "5m", "next": "after"},
                {"id": "after", "type": "action", "action": "noop"},
            ],
        },
    )
    # A long lease: only the control channel, not a lapsed lease, can explain what follows.
    worker = spawn_worker("worker", CONVEYOR_LEASE_SECONDS="120")
    execution, _ = await start_execution(db, "hangs", {})
    await asyncio.wait_for(hanging_peer.arrived.wait(), 30)

    loop = asyncio.get_running_loop()
    asked = loop.time()
    response = await api.post(f"/executions/{execution.id}/cancel")
    assert (await response.json())["state"] == "cancelled"
    await asyncio.wait_for(hanging_peer.hung_up.wait(), CANCEL_WITHIN_SECONDS)
    hung_up_after = loop.time() - asked
    cancelled = await _logged(worker, "step_cancelled")

    assert hung_up_after < CANCEL_WITHIN_SECONDS
    assert cancelled["execution_id"] == str(execution.id)
    async with db.acquire() as conn:
        steps = await conn.fetchval("SELECT count(*) FROM execution_steps WHERE execution_id = $1", execution.id)
        state = await conn.fetchval("SELECT state FROM executions WHERE id = $1", execution.id)
        in_flight = await conn.fetchval("SELECT count(*) FROM executions WHERE lease_owner IS NOT NULL")
    assert (state, steps, in_flight) == ("cancelled", 0, 0)
    print(f"cancel → peer hang-up {hung_up_after * 1000:.0f} ms; worker abort {cancelled['seconds']}")
