"""Ambiguous commits: 5 % of step commits fail on a dropped connection and 5 % commit and then lose the answer
(the worker cannot know the commit landed). Every execution completes, no step is committed twice, and no
side effect happens twice: each webhook reaches the peer under one key, each email is logged once."""

from __future__ import annotations

import uuid
from collections import Counter

from bench.chaos import AMBIGUOUS_FAILPOINTS
from bench.chaos_feed import definitions
from bench.chaos_tally import side_effects
from conveyor.checker import Rule, check_history
from conveyor.commands.operations import create_workflow, start_execution
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.e2e.harness import SpawnWorker, executions_in_state

_EXECUTIONS = 40

_EMAILS = "SELECT count(*) AS logs, count(DISTINCT (execution_id, node)) AS steps FROM email_logs"
_STATES = "SELECT state, count(*) AS n FROM executions GROUP BY state"


async def test_every_execution_completes_once_when_commits_fail_or_lose_their_answer(
    db: Pool, spawn_worker: SpawnWorker, webhook_peer: WebhookPeer
) -> None:
    child, parent = definitions(webhook_peer)
    await create_workflow(db, child)
    await create_workflow(db, parent)
    workers = [spawn_worker(f"worker-{n}", CONVEYOR_FAILPOINTS=AMBIGUOUS_FAILPOINTS) for n in range(2)]
    ids: list[uuid.UUID] = []
    for n in range(_EXECUTIONS):
        execution, _ = await start_execution(db, "chaos", {"email": f"user{n}@example.com", "shared": n % 2 == 0})
        ids.append(execution.id)

    await executions_in_state(db, ids, "completed")
    report = await check_history(db)
    async with db.acquire() as conn:
        emails = await conn.fetchrow(_EMAILS)
        states = {r["state"]: r["n"] for r in await conn.fetch(_STATES)}
    assert emails is not None
    doubled_keys, same_key_again = side_effects(webhook_peer)
    fired = Counter(str(e["point"]) for w in workers for e in w.events("failpoint_fired"))
    doubled_steps = sum(v.rule is Rule.DOUBLED_STEP for v in report.violations)
    print(
        f"ambiguous commits: failpoints fired {dict(fired)}; executions {states};"
        f" {report.transitions} transitions, doubled {doubled_steps}; webhook requests {len(webhook_peer.received)},"
        f" under two keys {doubled_keys}, same key again {same_key_again};"
        f" email logs {emails['logs']} for {emails['steps']} email steps; checker violations {len(report.violations)}"
    )
    assert fired["in_commit"] > 0, "no commit failed: the test proved nothing"
    assert fired["after_commit"] > 0, "no commit lost its answer: the test proved nothing"
    # the parents, their branches and items, and their shared flows
    assert states == {"completed": _EXECUTIONS * 6 + _EXECUTIONS // 2}
    assert doubled_steps == 0
    assert doubled_keys == 0
    assert emails["logs"] == emails["steps"] == 2 * _EXECUTIONS
    assert report.ok, report.summary()
