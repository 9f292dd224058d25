"""SIGTERM: a worker stops claiming, lets in-flight steps finish within the grace period, hands back the rest."""

from __future__ import annotations

import signal

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.e2e.harness import SpawnWorker, executions_in_state


def _slow_call_then_email(url: str) -> dict[str, object]:
    return {
        "name": "slow-call",
        "start": "crm",
        "nodes": [
            {"id": "crm", "type": "webhook", "method": "POST", "url": url, "body": {}, "next": "welcome"},
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "generic_welcome"},
            },
        ],
    }


async def test_sigterm_lets_an_in_flight_step_commit_within_the_grace_period_and_exits_0(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    await create_workflow(db, _slow_call_then_email(webhook_peer.url))
    worker = spawn_worker("worker", CONVEYOR_SHUTDOWN_GRACE="10", CONVEYOR_LEASE_SECONDS="30")
    execution, _ = await start_execution(db, "slow-call", {"email": "ada@example.com"})

    await webhook_peer.arrivals(1)
    worker_id = await worker.worker_id(db)
    worker.signal(signal.SIGTERM)
    # The call is answered only once the worker drains with it in flight.
    await poll_until(lambda: worker.events("worker_draining"), "the worker to start draining")
    webhook_peer.release()
    assert await worker.wait(15) == 0

    async with db.acquire() as conn:
        crm = await conn.fetchrow(
            "SELECT status, attempt, output FROM execution_steps WHERE execution_id = $1 AND node = 'crm'",
            execution.id,
        )
        lease_owner = await conn.fetchval("SELECT lease_owner FROM executions WHERE id = $1", execution.id)
        stopped_at = await conn.fetchval("SELECT stopped_at FROM workers WHERE id = $1", worker_id)

    assert crm is not None, "the in-flight step was not committed"
    assert (crm["status"], crm["attempt"]) == ("completed", 1)
    assert crm["output"]["status"] == 200
    assert len(webhook_peer.received) == 1
    assert lease_owner is None, "the stopped worker still holds the execution"
    assert stopped_at is not None
    draining = worker.events("worker_draining")
    assert [d["in_flight"] for d in draining] == [1]
    assert not worker.events("leases_released")
    assert worker.events("worker_stopped")


async def test_sigterm_hands_back_a_step_outlasting_the_grace_period_so_another_worker_takes_it_at_once(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    await create_workflow(db, _slow_call_then_email(webhook_peer.url))
    # A lease far longer than the test's patience: only a handed-back lease lets worker B in in time.
    stopping = spawn_worker("worker-a", CONVEYOR_SHUTDOWN_GRACE="0.5", CONVEYOR_LEASE_SECONDS="120")
    execution, _ = await start_execution(db, "slow-call", {"email": "ada@example.com"})

    await webhook_peer.arrivals(1)
    stopping.signal(signal.SIGTERM)
    assert await stopping.wait(15) == 0
    assert [r["count"] for r in stopping.events("leases_released")] == [1]
    webhook_peer.release()  # answer worker B's call; worker A hung up on its own
    async with db.acquire() as conn:
        handed_back = await conn.fetchrow(
            "SELECT state, lease_owner, wake_at <= now() AS due FROM executions WHERE id = $1", execution.id
        )
    assert handed_back is not None
    assert dict(handed_back) == {"state": "running", "lease_owner": None, "due": True}

    spawn_worker("worker-b", CONVEYOR_LEASE_SECONDS="120")
    await executions_in_state(db, [execution.id], "completed", timeout=30)

    key = f"{execution.id}:crm:1"
    assert webhook_peer.keys() == [key, key]
    async with db.acquire() as conn:
        steps = await conn.fetch(
            "SELECT node, status FROM execution_steps WHERE execution_id = $1 ORDER BY id", execution.id
        )
        emails = await conn.fetchval("SELECT count(*) FROM email_logs WHERE execution_id = $1", execution.id)
    assert [(s["node"], s["status"]) for s in steps] == [("crm", "completed"), ("welcome", "completed")]
    assert emails == 1
