"""Readiness: the database answers, and how many workers are alive by their heartbeat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow


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


async def test_without_a_live_worker_the_service_is_degraded_and_says_what_to_start(api: ApiClient) -> None:
    body = await _health(api)
    assert body["status"] == "degraded"
    assert any("conveyor worker" in reason for reason in body["reasons"])


async def test_claims_lagging_past_the_threshold_degrade_the_service_naming_the_setting(
    db: Pool, settings: Settings, aiohttp_client: Callable[..., Awaitable[ApiClient]]
) -> None:
    api = await aiohttp_client(create_app(db, replace(settings, health_claim_lag=timedelta(milliseconds=200))))
    workflow = await create_workflow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    await start_execution(db, str(workflow.id), {})  # due now, and no worker claims it

    async def lagging() -> JSONObject | None:
        body = await _health(api)
        return body if any("CONVEYOR_HEALTH_CLAIM_LAG" in r for r in body["reasons"]) else None

    body = await poll_until(lagging, "the claim lag to pass its threshold")
    assert body is not None
    assert body["status"] == "degraded"
    assert body["claim_lag_seconds"] > 0.2
