"""The costly corpus run through executions, keys and triggers while the API answers /health within 100 ms."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from conveyor.commands.operations import create_workflow
from conveyor.config import Settings
from conveyor.errors import ValidationError
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import Pool
from conveyor.store.executions import Execution
from testkit.poll import poll_until
from tests.corpus import corpus
from tests.costly import built
from tests.integration.conftest import ApiClient, flow, run_flow, running_worker, wait_until_ended

HEALTH_P99_SECONDS = 0.1
# Each input at most this much JSON: an execution's input crosses the event loop as JSON several times (claimed,
# rendered, committed), a cost of its size that is not a render's; the unit corpus runs the full sizes.
INPUT_CHARS = 64_000
URLIZE_DOTS = "{{ input.s | urlize }}"
DOTS = "." * 24_000 + "a."


async def _health_latencies(api: ApiClient, stop: asyncio.Event) -> list[float]:
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        response = await api.get("/health")
        await response.read()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return latencies


def _p99(latencies: list[float]) -> float:
    return sorted(latencies)[int(len(latencies) * 0.99)]


async def _start_corpus(db: Pool) -> list[Execution]:
    """One execution per corpus template, its template a step's params; those refused at save start none."""
    started = []
    for param in corpus("costly.json", "templates", "note"):
        entry: dict[str, Any] = param.values[0]
        render = {"id": "render", "type": "action", "action": "noop", "params": {"t": entry["template"]}}
        try:
            started.append(await run_flow(db, flow(render), built(entry["input"], INPUT_CHARS)))
        except ValidationError:
            assert "pprint" in entry["template"] or "frobnicate" in entry["template"]
    return started


async def _keyed_and_triggered(db: Pool, api: ApiClient) -> list[str]:
    """A concurrency key through the API and a coalesce key through an event trigger, both urlize on dots: the
    error each gives."""
    keyed: JSONObject = {
        **flow({"id": "a", "type": "action", "action": "noop"}),
        "concurrency": {"key": URLIZE_DOTS, "limit": 1},
    }
    workflow = await create_workflow(db, keyed)
    response = await api.post(f"/workflows/{workflow.id}/executions", json={"input": {"s": DOTS}})
    assert response.status == 422, await response.text()
    key_error: str = (await response.json())["error"]["message"]
    coalesced = {
        "type": "event",
        "event": "dots",
        "coalesce": {"key": "{{ payload.s | urlize }}", "quiet": "1s", "max_wait": "2s"},
    }
    response = await api.post(f"/workflows/{workflow.id}/triggers", json=coalesced)
    assert response.status == 201, await response.text()
    trigger_id = uuid.UUID((await response.json())["id"])
    assert (await api.post("/events", json={"type": "dots", "payload": {"s": DOTS}})).status in (200, 201, 202)

    async def consumed() -> str:
        async with db.acquire() as conn:
            reason = await conn.fetchval(
                "SELECT reason FROM trigger_events WHERE trigger_id = $1 AND consumed_at IS NOT NULL", trigger_id
            )
        return str(reason or "")

    return [key_error, await poll_until(consumed, "the event row consumed", timeout_seconds=120)]


async def test_the_costly_corpus_leaves_health_under_100_ms(
    db: Pool, api: ApiClient, database_url: str, settings: Settings
) -> None:
    executions = await _start_corpus(db)  # before the watch: the test's own inserts are not what is measured
    stop = asyncio.Event()
    health = asyncio.create_task(_health_latencies(api, stop))
    async with running_worker(db, database_url, settings):
        key_errors = await _keyed_and_triggered(db, api)
        ended = [await wait_until_ended(db, e.id, timeout=120) for e in executions]
        stop.set()
        latencies = await health
    assert _p99(latencies) < HEALTH_P99_SECONDS, (
        f"/health p99 {_p99(latencies):.3f} s, worst {max(latencies):.3f} s over {len(latencies)} requests"
    )
    assert all(e.state in TERMINAL_STATES for e in ended)
    urlize = next(e for e in ended if e.input.get("s") == DOTS)
    assert urlize.state == "failed"
    assert "longer than 1.0 s" in str(urlize.error)
    assert all("longer than 1.0 s" in error for error in key_errors), key_errors
