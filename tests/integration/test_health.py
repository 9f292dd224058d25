"""Readiness: the database answers, and how many workers are alive by their heartbeat."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from conveyor.engine.worker import Worker


async def test_readiness_counts_a_running_worker_by_its_heartbeat(api: TestClient, worker: Worker) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        body = await (await api.get("/health")).json()
        if body["live_workers"] == 1 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert (body["status"], body["database"], body["live_workers"]) == ("ok", "ok", 1)
    assert set(body) >= {"database_round_trip_ms", "claim_lag_seconds", "pending_inbox_rows"}


async def test_a_stopped_worker_is_not_live(api: TestClient, db: object) -> None:
    body = await (await api.get("/health")).json()
    assert body["live_workers"] == 0
