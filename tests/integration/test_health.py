"""Readiness: the database answers, and how many workers are alive by their heartbeat."""

from __future__ import annotations

from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient


async def _health(api: ApiClient) -> JSONObject:
    body: JSONObject = await (await api.get("/health")).json()
    return body


async def test_readiness_counts_a_running_worker_by_its_heartbeat(api: ApiClient, worker: Worker) -> None:
    async def one_live() -> JSONObject | None:
        body = await _health(api)
        return body if body["live_workers"] == 1 else None

    body = await poll_until(one_live, "the worker's heartbeat to count it live")
    assert body is not None
    assert (body["status"], body["database"], body["live_workers"]) == ("ok", "ok", 1)
    assert set(body) >= {"database_round_trip_ms", "claim_lag_seconds", "pending_inbox_rows"}


async def test_without_workers_none_is_live(api: ApiClient, db: Pool) -> None:
    assert (await _health(api))["live_workers"] == 0
