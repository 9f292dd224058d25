"""The history checker on the real database: runs of the engine pass, and each kind of damage is caught."""

from __future__ import annotations

import uuid

from conveyor.checker import Rule, check_history
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.integration.conftest import flow, run_flow, wait_until_ended


async def _finished_run(db: Pool, url: str) -> uuid.UUID:
    nodes = (
        {"id": "mail", "type": "action", "action": "send_email",
         "params": {"to": "a@example.com", "template": "generic_welcome"}},
        {"id": "call", "type": "webhook", "method": "POST", "url": url},
        {"id": "pause", "type": "delay", "duration": "10ms"},
        {"id": "end", "type": "action", "action": "noop"},
    )  # fmt: skip
    ex = await wait_until_ended(db, (await run_flow(db, flow(*nodes))).id)
    assert ex.state == "completed"
    return ex.id


async def test_an_engine_run_passes_the_checker(db: Pool, worker: Worker, webhook_peer: WebhookPeer) -> None:
    await _finished_run(db, webhook_peer.url)
    report = await check_history(db)
    assert report.ok, report.summary()
    # start, twice (step_ok, advance), step_ok, sleep, wake, step_ok, finish
    assert (report.executions, report.transitions) == (1, 10)


async def test_a_step_committed_twice_is_caught(db: Pool, worker: Worker, webhook_peer: WebhookPeer) -> None:
    execution_id = await _finished_run(db, webhook_peer.url)
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO execution_steps (execution_id, node, visit, attempt, status, started_at)"
            " SELECT execution_id, node, visit, attempt, status, started_at FROM execution_steps"
            " WHERE execution_id = $1 AND node = 'call'",
            execution_id,
        )
    [violation] = (await check_history(db)).violations
    assert (violation.rule, violation.execution_id) == (Rule.DOUBLED_STEP, execution_id)


async def test_a_transition_written_twice_is_caught(db: Pool, worker: Worker, webhook_peer: WebhookPeer) -> None:
    execution_id = await _finished_run(db, webhook_peer.url)
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO execution_history (execution_id, from_state, to_state, event)"
            " VALUES ($1, 'stepCompleted', 'completed', 'finish')",
            execution_id,
        )
    [violation] = (await check_history(db)).violations
    assert (violation.rule, violation.execution_id) == (Rule.BROKEN_WALK, execution_id)


async def test_a_side_effect_under_a_second_key_is_caught(db: Pool, worker: Worker, webhook_peer: WebhookPeer) -> None:
    execution_id = await _finished_run(db, webhook_peer.url)
    async with db.acquire() as conn:
        await conn.execute(
            "INSERT INTO webhook_logs (execution_id, node, idempotency_key, attempt, method, url)"
            " VALUES ($1, 'call', $2, 1, 'POST', $3)",
            execution_id,
            f"{execution_id}:call:retry-1",
            webhook_peer.url,
        )
    [violation] = (await check_history(db)).violations
    assert (violation.rule, violation.execution_id) == (Rule.SURPLUS_KEYS, execution_id)
