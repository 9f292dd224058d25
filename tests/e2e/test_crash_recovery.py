"""A worker killed mid-step: another takes the execution over when the lease lapses, and nothing runs twice."""

from __future__ import annotations

import signal

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.e2e.harness import SpawnWorker, executions_in_state


def _email_webhook_email(url: str) -> dict[str, object]:
    return {
        "name": "crash-mid-webhook",
        "start": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "generic_welcome"},
                "next": "crm",
            },
            {
                "id": "crm",
                "type": "webhook",
                "method": "POST",
                "url": url,
                "body": {"email": "{{ input.email }}"},
                "next": "nudge",
            },
            {
                "id": "nudge",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "engagement_nudge"},
            },
        ],
    }


async def test_sigkilled_worker_mid_step_is_taken_over_after_the_lease_lapses_without_repeating_steps(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    await create_workflow(db, _email_webhook_email(webhook_peer.url))
    crashing = spawn_worker("worker-a")
    execution, _ = await start_execution(db, "crash-mid-webhook", {"email": "ada@example.com"})

    await webhook_peer.arrivals(1)  # worker A is inside the webhook step, its welcome email committed
    crashing_id = await crashing.worker_id(db)
    crashing.signal(signal.SIGKILL)
    assert await crashing.wait(10) == -signal.SIGKILL
    webhook_peer.release()  # answer the successor's call; the killed worker's was hung up on
    async with db.acquire() as conn:
        lapses_at = await conn.fetchval("SELECT wake_at FROM executions WHERE id = $1", execution.id)

    successor = spawn_worker("worker-b")
    await executions_in_state(db, [execution.id], "completed")
    successor_id = await successor.worker_id(db)

    async with db.acquire() as conn:
        history = await conn.fetch(
            "SELECT from_state, to_state, event, node, detail, at FROM execution_history WHERE execution_id = $1"
            " ORDER BY id",
            execution.id,
        )
        steps = await conn.fetch(
            "SELECT node, status FROM execution_steps WHERE execution_id = $1 ORDER BY id", execution.id
        )
        emails = await conn.fetch(
            "SELECT node, template, status FROM email_logs WHERE execution_id = $1 ORDER BY created_at", execution.id
        )
        calls = await conn.fetch(
            "SELECT idempotency_key, status_code FROM webhook_logs WHERE execution_id = $1", execution.id
        )

    reclaims = [h for h in history if h["event"] == "reclaim"]
    assert len(reclaims) == 1
    reclaim = reclaims[0]
    assert (reclaim["from_state"], reclaim["to_state"], reclaim["node"]) == ("running", "running", "crm")
    assert reclaim["detail"] == {"worker": successor_id, "previous_owner": crashing_id}
    assert reclaim["at"] >= lapses_at, "worker B took the execution while worker A's lease still ran"
    assert [h["event"] for h in history][-2:] == ["step_ok", "finish"]

    assert [(s["node"], s["status"]) for s in steps] == [
        ("welcome", "completed"),
        ("crm", "completed"),
        ("nudge", "completed"),
    ]
    assert [(e["node"], e["template"], e["status"]) for e in emails] == [
        ("welcome", "generic_welcome", "logged"),
        ("nudge", "engagement_nudge", "logged"),
    ]

    key = f"{execution.id}:crm:2"
    assert webhook_peer.keys() == [key, key]  # the hung request and the successful re-run, one key
    assert [(c["idempotency_key"], c["status_code"]) for c in calls] == [(key, 200)]
    assert not successor.events("email_already_sent"), "worker B re-ran the committed welcome step"
