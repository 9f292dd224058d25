"""Edge cases found in review: paused parents, retried children, own lapsed leases, lost pause requests."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conveyor.commands.operations import create_workflow, operate, start_execution
from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.errors import IllegalTransitionError
from conveyor.store import Pool
from conveyor.store.emails import OutgoingEmail, reserve_email
from conveyor.store.templates import EmailContent
from testkit.peers import Reply, WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import (
    flow,
    history_events,
    run_flow,
    running_worker,
    wait_for,
    wait_until_ended,
)


async def test_parent_paused_while_its_child_ends_continues_after_resume(db: Pool, worker: Worker) -> None:
    await create_workflow(db, flow({"id": "nap", "type": "delay", "duration": "300ms"}, name="napper"))
    parent = await run_flow(
        db,
        flow({"id": "sub", "type": "shared_flow", "flow": "napper"}, {"id": "end", "type": "action", "action": "noop"}),
    )
    await wait_for(db, parent.id, lambda e: e.state == "delayed")
    await operate(db, parent.id, "pause")
    async with db.acquire() as conn:
        child_id = await conn.fetchval("SELECT id FROM executions WHERE parent_id = $1", parent.id)
    assert (await wait_until_ended(db, child_id)).state == "completed"
    await operate(db, parent.id, "resume")
    assert (await wait_until_ended(db, parent.id)).state == "completed"


async def test_operator_retry_of_a_parent_starts_a_fresh_child(db: Pool, worker: Worker) -> None:
    await create_workflow(
        db,
        flow(
            {
                "id": "m",
                "type": "action",
                "action": "send_email",
                "params": {"to": "a@example.com", "template": "{{ input.template }}"},
            },
            name="mailer",
        ),
    )
    parent = await run_flow(
        db, flow({"id": "sub", "type": "shared_flow", "flow": "mailer"}), {"template": "added_later"}
    )
    assert (await wait_until_ended(db, parent.id)).state == "failed"
    async with db.acquire() as conn:
        await conn.execute("INSERT INTO email_templates (name, subject, text_body) VALUES ('added_later', 's', 't')")
    await operate(db, parent.id, "retry")
    assert (await wait_until_ended(db, parent.id)).state == "completed"
    async with db.acquire() as conn:
        children = await conn.fetch("SELECT state FROM executions WHERE parent_id = $1 ORDER BY created_at", parent.id)
    assert [c["state"] for c in children] == ["failed", "completed"]


async def test_a_failed_execution_cannot_be_cancelled(db: Pool, worker: Worker) -> None:
    ex = await run_flow(
        db,
        flow(
            {
                "id": "m",
                "type": "action",
                "action": "send_email",
                "params": {"to": "a@example.com", "template": "{{ input.template }}"},
            }
        ),
        {"template": "nope"},
    )
    assert (await wait_until_ended(db, ex.id)).state == "failed"
    with pytest.raises(IllegalTransitionError):
        await operate(db, ex.id, "cancel")


async def test_a_worker_never_claims_what_it_is_running_itself(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    ex = await run_flow(db, flow({"id": "call", "type": "webhook", "url": webhook_peer.url}))
    await webhook_peer.arrivals(1)
    async with db.acquire() as conn:  # our own lease looks lapsed (a late renewal)
        await conn.execute("UPDATE executions SET wake_at = now() - interval '1 second' WHERE id = $1", ex.id)
    worker.wake()
    # A claim made after the update saw the held execution due, and due before this one: it was offered then.
    later = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    assert (await wait_until_ended(db, later.id)).state == "completed"
    webhook_peer.release()
    assert (await wait_until_ended(db, ex.id)).state == "completed"
    assert len(webhook_peer.received) == 1
    assert "reclaim" not in await history_events(db, ex.id)


async def test_a_pause_asked_for_before_a_crash_holds_for_the_next_worker(db: Pool, worker: Worker) -> None:
    workflow = await create_workflow(
        db, flow({"id": "a", "type": "action", "action": "noop"}, {"id": "b", "type": "action", "action": "noop"})
    )
    ex_id = uuid.uuid4()
    async with db.acquire() as conn:  # what a crash right after committing step a, with a pause asked for, leaves
        await conn.execute(
            "INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, wake_at,"
            " lease_owner, pause_requested) VALUES ($1, $2, 1, 'running', 'b', 2, 1,"
            " now() - interval '1 second', 'dead-worker', true)",
            ex_id,
            workflow.id,
        )
    worker.wake()
    paused = await wait_for(db, ex_id, lambda e: e.state == "paused")
    assert paused.current_node == "b"
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM execution_steps WHERE execution_id = $1", ex_id) == 0


async def test_resume_withdraws_a_pause_asked_for_during_a_step(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    ex = await run_flow(
        db,
        flow(
            {"id": "call", "type": "webhook", "url": webhook_peer.url},
            {"id": "end", "type": "action", "action": "noop"},
        ),
    )
    await webhook_peer.arrivals(1)
    assert (await operate(db, ex.id, "pause")).pause_requested
    assert not (await operate(db, ex.id, "resume")).pause_requested
    webhook_peer.release()
    done = await wait_until_ended(db, ex.id)
    assert (done.state, done.pause_requested) == ("completed", False)


async def test_a_step_result_the_database_cannot_store_fails_the_step_once(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(Reply(200, '{"v": "\\u0000"}'))
    ex = await run_flow(db, flow({"id": "call", "type": "webhook", "url": webhook_peer.url}))
    done = await wait_until_ended(db, ex.id)
    assert (done.state, done.error["code"]) == ("failed", "unstorable_result")
    assert len(webhook_peer.received) == 1


async def test_two_reservations_of_one_email_key_meet_on_one_row(db: Pool) -> None:
    ex = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    email = OutgoingEmail(ex.id, "a", f"{ex.id}:a:1", "x@example.com", "t", EmailContent("s", "b", None), "log")
    async with db.acquire() as first, db.acquire() as second:
        tx = first.transaction()
        await tx.start()
        mine = await reserve_email(first, email)
        theirs = asyncio.create_task(reserve_email(second, email))
        waiting = "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1"

        async def blocked() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval(waiting, second.get_server_pid()))

        await poll_until(blocked, "the second reservation to wait on the first one's unique key")
        await tx.commit()
        assert (await theirs).id == mine.id


async def test_no_caller_can_take_a_shared_flow_childs_key(db: Pool, database_url: str) -> None:
    await create_workflow(db, flow({"id": "inner", "type": "action", "action": "noop"}, name="inner-flow"))
    parent = await run_flow(db, flow({"id": "sub", "type": "shared_flow", "flow": "inner-flow"}))
    squatter, _ = await start_execution(db, "inner-flow", {}, dedupe_key=f"{parent.id}:sub:1:0:1")
    async with running_worker(db, database_url, Settings()):
        assert (await wait_until_ended(db, parent.id)).state == "completed"
    async with db.acquire() as conn:
        child = await conn.fetchval("SELECT id FROM executions WHERE parent_id = $1", parent.id)
    assert child not in (None, squatter.id)
