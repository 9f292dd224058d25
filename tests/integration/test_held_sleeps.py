"""Held sleeps: a worker keeps a short delay under its lease and wakes it in memory, without a claim."""

from __future__ import annotations

import asyncio
import dataclasses

from conveyor.config import Settings
from conveyor.engine.claim import claim_due
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.executions import Execution
from testkit.peers import WebhookPeer
from tests.integration.conftest import ApiClient, flow, run_flow, running_worker, wait_for_event, wait_until_ended

_ROW = "SELECT state, lease_owner, extract(epoch FROM wake_at - now())::float8 AS due_in FROM executions WHERE id = $1"
_HISTORY = "SELECT event, at FROM execution_history WHERE execution_id = $1 ORDER BY id"


async def _asleep(db: Pool, definition: JSONObject) -> Execution:
    """An execution of `definition`, started and gone to sleep."""
    started = await run_flow(db, definition)
    await wait_for_event(db, started.id, "sleep")
    return started


def _delay_then_call(url: str, duration: str = "1s") -> JSONObject:
    return flow(
        {"id": "wait", "type": "delay", "duration": duration},
        {"id": "call", "type": "webhook", "url": url},
    )


async def test_a_held_sleep_wakes_in_memory_and_writes_its_wake_with_the_next_step(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "wait", "type": "delay", "duration": "0.5s"}, {"id": "end", "type": "action", "action": "noop"}
    )
    started = await run_flow(db, definition)
    ex = await wait_until_ended(db, started.id)
    assert ex.state == "completed"
    async with db.acquire() as conn:
        history = await conn.fetch(_HISTORY, started.id)
    events = [h["event"] for h in history]
    assert events == ["start", "step_ok", "sleep", "wake", "step_ok", "finish"]
    at = {h["event"]: h["at"] for h in history if h["event"] in ("sleep", "wake")}
    late = (at["wake"] - at["sleep"]).total_seconds() - 0.5
    assert 0 <= late < 0.3, f"woke {late:.3f} s after its due time"
    # No claim woke it: the wake, the step and the finish are one statement (one now()).
    assert len({h["at"] for h in history[3:]}) == 1


async def test_a_sleep_longer_than_a_second_is_not_held(db: Pool, worker: Worker) -> None:
    started = await _asleep(db, flow({"id": "wait", "type": "delay", "duration": "3s"}))
    async with db.acquire() as conn:
        row = await conn.fetchrow(_ROW, started.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("delayed", None)


async def test_another_worker_takes_a_held_sleep_only_a_second_past_its_due_time(db: Pool, worker: Worker) -> None:
    started = await _asleep(db, flow({"id": "wait", "type": "delay", "duration": "1s"}))
    async with db.acquire() as conn:
        row = await conn.fetchrow(_ROW, started.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("delayed", worker.id)
    assert 1.5 < row["due_in"] <= 2.0
    assert await claim_due(db, "another-worker", 10, 30.0) == []


async def test_a_held_execution_takes_no_slot(db: Pool, database_url: str, settings: Settings) -> None:
    one_slot = dataclasses.replace(settings, concurrency=1)
    async with running_worker(db, database_url, one_slot):
        first = await run_flow(db, flow({"id": "wait", "type": "delay", "duration": "1s"}))
        second = await run_flow(db, flow({"id": "wait", "type": "delay", "duration": "1s"}))
        # Both sleep at once: the first, held, left the only slot free for the second's start.
        await wait_for_event(db, second.id, "sleep", timeout=0.9)
        for started in (first, second):
            assert (await wait_until_ended(db, started.id)).state == "completed"


async def test_a_pause_reaches_the_holder_and_the_next_step_runs_once_after_resume(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    started = await _asleep(db, _delay_then_call(webhook_peer.url))
    response = await api.post(f"/executions/{started.id}/pause")
    assert (await response.json())["state"] == "paused"
    await asyncio.sleep(2.5)  # past the due time, and past when another worker could take it
    assert webhook_peer.received == []
    async with db.acquire() as conn:
        row = await conn.fetchrow(_ROW, started.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("paused", None)
    response = await api.post(f"/executions/{started.id}/resume")
    assert response.status == 200
    ex = await wait_until_ended(db, started.id)
    assert ex.state == "completed"
    assert len(webhook_peer.received) == 1


async def test_a_cancel_reaches_the_holder_and_no_step_runs(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    started = await _asleep(db, _delay_then_call(webhook_peer.url))
    response = await api.post(f"/executions/{started.id}/cancel")
    assert (await response.json())["state"] == "cancelled"
    await asyncio.sleep(2.5)
    assert webhook_peer.received == []
    assert (await wait_until_ended(db, started.id)).state == "cancelled"


async def test_a_worker_that_stops_while_holding_hands_the_execution_over(
    db: Pool, database_url: str, settings: Settings, webhook_peer: WebhookPeer
) -> None:
    async with running_worker(db, database_url, settings):
        started = await _asleep(db, _delay_then_call(webhook_peer.url))
    # Stopped mid-hold: it ran no step while stopping, and left the row to be taken at its due time.
    assert webhook_peer.received == []
    async with running_worker(db, database_url, settings):
        ex = await wait_until_ended(db, started.id)
    assert ex.state == "completed"
    assert len(webhook_peer.received) == 1


async def test_one_woken_while_every_slot_is_taken_waits_for_a_slot_as_any_due_execution(
    db: Pool, database_url: str, settings: Settings, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    one_slot = dataclasses.replace(settings, concurrency=1)
    async with running_worker(db, database_url, one_slot):
        first = await run_flow(db, _delay_then_call(webhook_peer.url, "0.5s"))
        second = await run_flow(db, _delay_then_call(webhook_peer.url, "0.5s"))
        await webhook_peer.arrivals(1)
        await asyncio.sleep(1.0)  # the second is due, and woke to find the only slot taken by the first's call
        assert len(webhook_peer.received) == 1
        webhook_peer.release()
        for started in (first, second):
            assert (await wait_until_ended(db, started.id)).state == "completed"
    async with db.acquire() as conn:
        wakes = await conn.fetch(
            "SELECT execution_id, detail FROM execution_history WHERE event = 'wake' AND execution_id = ANY($1)",
            [first.id, second.id],
        )
    # One woke in memory; the other was handed back and a claim woke it (a claim's detail names its worker).
    assert sorted("worker" in (w["detail"] or {}) for w in wakes) == [False, True]
    assert len(webhook_peer.received) == 2
