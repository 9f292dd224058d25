"""A worker frozen mid-step (SIGSTOP) past its lease: another finishes the execution, and the zombie, thawed,
changes nothing."""

from __future__ import annotations

import signal
import uuid

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.e2e.harness import DEADLINE_SECONDS, SpawnWorker, WorkerProcess, executions_in_state


def _webhook_then_email(url: str) -> JSONObject:
    return {
        "name": "zombie-webhook",
        "start": "crm",
        "nodes": [
            {"id": "crm", "type": "webhook", "method": "POST", "url": url, "body": {"n": 1}, "next": "nudge"},
            {
                "id": "nudge",
                "type": "action",
                "action": "send_email",
                "params": {"to": "ada@example.com", "template": "engagement_nudge"},
            },
        ],
    }


async def _snapshot(db: Pool, execution_id: uuid.UUID) -> dict[str, object]:
    """Everything the engine's fenced writes could touch, for one execution."""
    async with db.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT state, version, lease_owner, updated_at, finished_at FROM executions WHERE id = $1", execution_id
        )
        history = await conn.fetch(
            "SELECT id, from_state, to_state, event, node FROM execution_history WHERE execution_id = $1 ORDER BY id",
            execution_id,
        )
        steps = await conn.fetch(
            "SELECT id, node, attempt, status FROM execution_steps WHERE execution_id = $1 ORDER BY id", execution_id
        )
        emails = await conn.fetch("SELECT id FROM email_logs WHERE execution_id = $1 ORDER BY id", execution_id)
    return {
        "execution": dict(row) if row else None,
        "history": [tuple(h) for h in history],
        "steps": [tuple(s) for s in steps],
        "emails": [tuple(e) for e in emails],
    }


def _rows_differing(before: object, after: object) -> int:
    if isinstance(before, list) and isinstance(after, list):
        return len(set(before) ^ set(after))
    return int(before != after)


async def _lease_lapsed(db: Pool, execution_id: uuid.UUID) -> bool:
    async with db.acquire() as conn:
        return bool(await conn.fetchval("SELECT wake_at <= now() FROM executions WHERE id = $1", execution_id))


async def test_a_thawed_zombie_worker_changes_no_row_and_the_execution_finishes_once(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    await create_workflow(db, _webhook_then_email(webhook_peer.url))
    zombie: WorkerProcess = spawn_worker("zombie")
    execution, _ = await start_execution(db, "zombie-webhook", {})
    await webhook_peer.arrivals(1)  # the zombie is inside the webhook step, the peer holding its request
    zombie_id = await zombie.worker_id(db)
    zombie.signal(signal.SIGSTOP)
    try:
        # Its lease (2 s) is not renewed while it is frozen: the successor takes it only once it lapses.
        await poll_until(lambda: _lease_lapsed(db, execution.id), "the frozen worker's lease to lapse", 10)
        successor = spawn_worker("successor")
        await webhook_peer.arrivals(2)  # the successor re-runs the step under the same key
        webhook_peer.release()  # both calls are answered; the frozen one's answer waits in its socket
        await executions_in_state(db, [execution.id], "completed")
        successor_id = await successor.worker_id(db)
        before = await _snapshot(db, execution.id)
    finally:
        zombie.signal(signal.SIGCONT)

    # Thawed, the zombie reads its answer and tries to commit the step, fenced on a lease it lost.
    await poll_until(lambda: zombie.events("lease_lost"), "the zombie's refused commit", DEADLINE_SECONDS)
    after = await _snapshot(db, execution.id)
    refused_commits = len(zombie.events("lease_lost"))
    refused_renewals = len(zombie.events("lease_not_renewed"))
    changed = [name for name in before if before[name] != after[name]]
    rows_changed = sum(_rows_differing(before[name], after[name]) for name in before)
    print(
        f"zombie fencing: refused commits {refused_commits}, refused lease renewals {refused_renewals},"
        f" rows the zombie changed {rows_changed}, webhook calls {len(webhook_peer.received)}"
    )

    assert refused_commits == 1
    assert rows_changed == 0, f"the zombie's late writes changed {changed}"
    assert after["execution"] is not None
    assert zombie.returncode is None, "the zombie should live on as a worker, having dropped the execution"

    async with db.acquire() as conn:
        history = await conn.fetch(
            "SELECT from_state, to_state, event, node, detail FROM execution_history WHERE execution_id = $1"
            " ORDER BY id",
            execution.id,
        )
        steps = await conn.fetch(
            "SELECT node, status FROM execution_steps WHERE execution_id = $1 ORDER BY id", execution.id
        )
        call_logs = await conn.fetchval("SELECT count(*) FROM webhook_logs WHERE execution_id = $1", execution.id)
    transitions = [(h["from_state"], h["to_state"], h["event"], h["node"]) for h in history]
    assert len(transitions) == len(set(transitions)), f"a duplicate transition: {transitions}"
    assert [h["to_state"] for h in history].count("completed") == 1
    [reclaim] = [h for h in history if h["event"] == "reclaim"]
    assert reclaim["detail"] == {"worker": successor_id, "previous_owner": zombie_id}
    assert [(s["node"], s["status"]) for s in steps] == [("crm", "completed"), ("nudge", "completed")]
    key = f"{execution.id}:crm:1"
    assert webhook_peer.keys() == [key, key]  # the zombie's call and the successor's, one key
    # The call log is a record of calls made, not state: the zombie's call did happen, so it is logged too.
    assert call_logs == len(webhook_peer.received)
