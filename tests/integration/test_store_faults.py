"""Database faults inside steps and around commits: the execution goes on, nothing is spent, nothing doubles."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator, MutableMapping
from typing import Any

from conveyor import failpoints
from conveyor.checker import check_history, doubled_keys
from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.conftest import logged
from tests.integration.conftest import flow, running_worker, wait_until_ended

Logs = list[MutableMapping[str, Any]]
# Short leases: a claim whose answer was lost comes back after one.
_SETTINGS = Settings(lease_seconds=2.0, concurrency=10, webhook_allow_hosts=frozenset({"127.0.0.1"}))


@contextlib.contextmanager
def armed(spec: str) -> Iterator[None]:
    failpoints.arm(spec)
    try:
        yield
    finally:
        failpoints.arm("")


def _email_webhook_delay(url: str) -> JSONObject:
    return flow(
        {"id": "mail", "type": "action", "action": "send_email",
         "params": {"to": "{{ input.email }}", "template": "generic_welcome"}},
        {"id": "call", "type": "webhook", "method": "POST", "url": url,
         "body": {"execution": "{{ execution.id }}", "visit": "{{ execution.visit }}"}},
        {"id": "pause", "type": "delay", "duration": "10ms"},
        {"id": "end", "type": "action", "action": "noop"},
    )  # fmt: skip


async def _run_all(db: Pool, database_url: str, url: str, count: int) -> list[uuid.UUID]:
    workflow = await create_workflow(db, _email_webhook_delay(url))
    ids = [(await start_execution(db, str(workflow.id), {"email": f"u{i}@example.com"}))[0].id for i in range(count)]
    async with running_worker(db, database_url, _SETTINGS):
        ended = await asyncio.gather(*(wait_until_ended(db, i, timeout=90) for i in ids))
    assert [ex.state for ex in ended] == ["completed"] * count
    return ids


async def _assert_nothing_doubled(db: Pool, peer: WebhookPeer, ids: list[uuid.UUID]) -> None:
    report = await check_history(db)
    assert report.ok, report.summary()
    async with db.acquire() as conn:
        failed_steps = await conn.fetchval("SELECT count(*) FROM execution_steps WHERE status <> 'completed'")
        emails = await conn.fetch("SELECT execution_id, status FROM email_logs")
    assert failed_steps == 0, "a database fault spent a step's attempt"
    assert sorted(e["execution_id"] for e in emails) == sorted(ids)
    assert {e["status"] for e in emails} == {"logged"}
    deliveries = [(_step(r.body), r.key) for r in peer.received]
    assert doubled_keys(deliveries) == []
    assert {step for step, _ in deliveries} == {(str(i), "2") for i in ids}


def _step(body: object) -> tuple[str, str]:
    assert isinstance(body, dict)
    return str(body["execution"]), str(body["visit"])


async def test_a_dropped_connection_while_a_step_records_its_side_effect_spends_no_attempt(
    db: Pool, database_url: str, webhook_peer: WebhookPeer, logs: Logs
) -> None:
    with armed("step_write:raise@0.5"):
        ids = await _run_all(db, database_url, webhook_peer.url, 10)
    assert logged(logs, "failpoint_fired", point="step_write"), "no fault was injected"
    assert logged(logs, "execution_run_interrupted")
    await _assert_nothing_doubled(db, webhook_peer, ids)


async def test_commits_that_fail_or_land_unanswered_double_no_transition_and_no_side_effect(
    db: Pool, database_url: str, webhook_peer: WebhookPeer, logs: Logs
) -> None:
    # The first claim's answer is lost; the first three step commits fail, the next three land unheard (a commit
    # may write a group of steps, so counts rather than odds make sure each fault happens).
    with armed("after_claim:raise*1,in_commit:raise*3,after_commit:raise*3"):
        ids = await _run_all(db, database_url, webhook_peer.url, 10)
    for point in ("after_claim", "in_commit", "after_commit"):
        assert logged(logs, "failpoint_fired", point=point), f"no fault at {point}"
    await _assert_nothing_doubled(db, webhook_peer, ids)
