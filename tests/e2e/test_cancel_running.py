"""A cancel over HTTP stops a step running in another process within a second, through the control channel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.http.app import create_app
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.e2e.harness import SpawnWorker, WorkerProcess
from tests.integration.conftest import ApiClient

CANCEL_WITHIN_SECONDS = 1.0


async def _logged(worker: WorkerProcess, event: str) -> dict[str, object]:
    async def check() -> bool:
        return bool(worker.events(event))

    await poll_until(check, f"{event} in {worker.name}'s log", timeout_seconds=10)
    return worker.events(event)[0]


async def test_cancel_over_http_aborts_a_step_running_in_a_worker_process_within_a_second(
    db: Pool,
    spawn_worker: SpawnWorker,
    webhook_peer: WebhookPeer,
    aiohttp_client: Callable[..., Awaitable[ApiClient]],
) -> None:
    api = await aiohttp_client(create_app(db))
    webhook_peer.hold()
    await create_workflow(
        db,
        {
            "name": "hangs",
            "start": "call",
            "nodes": [
                {"id": "call", "type": "webhook", "url": webhook_peer.url, "timeout": "5m", "next": "after"},
                {"id": "after", "type": "action", "action": "noop"},
            ],
        },
    )
    # A long lease: only the control channel, not a lapsed lease, can explain what follows.
    worker = spawn_worker("worker", CONVEYOR_LEASE_SECONDS="120")
    execution, _ = await start_execution(db, "hangs", {})
    await webhook_peer.arrivals(1, timeout_seconds=30)

    loop = asyncio.get_running_loop()
    asked = loop.time()
    response = await api.post(f"/executions/{execution.id}/cancel")
    assert (await response.json())["state"] == "cancelled"
    await poll_until(lambda: webhook_peer.abandoned, "the worker to hang up", timeout_seconds=CANCEL_WITHIN_SECONDS)
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
