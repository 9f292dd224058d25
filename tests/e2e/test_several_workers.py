"""Several worker processes on one database share the work and run every step once."""

from __future__ import annotations

from collections import Counter

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.e2e.harness import SpawnWorker, executions_in_state, workers_registered

EXECUTIONS = 200
NODES = ("prepare", "welcome", "notify")


def _three_steps(url: str) -> dict[str, object]:
    return {
        "name": "three-steps",
        "start": "prepare",
        "nodes": [
            {"id": "prepare", "type": "action", "action": "noop", "params": {"n": "{{ input.n }}"}, "next": "welcome"},
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "generic_welcome"},
                "next": "notify",
            },
            {"id": "notify", "type": "webhook", "method": "POST", "url": url, "body": {"n": "{{ input.n }}"}},
        ],
    }


async def test_two_workers_run_200_executions_with_every_step_exactly_once(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    await create_workflow(db, _three_steps(webhook_peer.url))
    # A lease no stall of this busy machine outlasts: this test is about sharing work, not recovery.
    first = spawn_worker("worker-a", CONVEYOR_LEASE_SECONDS="30")
    second = spawn_worker("worker-b", CONVEYOR_LEASE_SECONDS="30")
    await workers_registered(db, 2)

    ids = []
    for n in range(EXECUTIONS):
        execution, _ = await start_execution(db, "three-steps", {"n": n, "email": f"user{n}@example.com"})
        ids.append(execution.id)
    await executions_in_state(db, ids, "completed")

    async with db.acquire() as conn:
        steps = await conn.fetch("SELECT execution_id, node, status, attempt FROM execution_steps")
        emails = await conn.fetch("SELECT execution_id, node, recipient, status FROM email_logs")
        claims = await conn.fetch(
            "SELECT detail->>'worker' AS worker, count(*) AS n FROM execution_history WHERE event = 'start' GROUP BY 1"
        )
        reclaims = await conn.fetchval("SELECT count(*) FROM execution_history WHERE event = 'reclaim'")
        registered = {r["id"] for r in await conn.fetch("SELECT id FROM workers")}

    assert len(steps) == EXECUTIONS * len(NODES)
    assert {(s["status"], s["attempt"]) for s in steps} == {("completed", 1)}
    assert Counter((s["execution_id"], s["node"]) for s in steps) == {(i, node): 1 for i in ids for node in NODES}

    assert len(emails) == EXECUTIONS
    assert {e["execution_id"] for e in emails} == set(ids)
    assert {(e["node"], e["status"]) for e in emails} == {("welcome", "logged")}

    keys = Counter(webhook_peer.keys())
    assert keys == {f"{i}:notify:3": 1 for i in ids}
    assert sorted(r.body["n"] for r in webhook_peer.received) == list(range(EXECUTIONS))

    ids_of_workers = {await first.worker_id(db), await second.worker_id(db)}
    assert registered == ids_of_workers
    by_worker = {c["worker"]: c["n"] for c in claims}
    assert set(by_worker) == ids_of_workers, f"claims per worker: {by_worker}"
    assert sum(by_worker.values()) == EXECUTIONS
    assert reclaims == 0, "a lease lapsed while its worker was alive"
