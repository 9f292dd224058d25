"""cancel_on: a workflow's matching event cancels its live executions, through the machine, with history."""

from __future__ import annotations

import uuid

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.commands.triggers import post_event
from conveyor.config import Settings
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import CANCELLED, DELAYED
from conveyor.store import Pool
from conveyor.store.history import list_history
from tests.integration.conftest import running_worker, wait_for

ONBOARDING: JSONObject = {
    "name": "onboarding",
    "start": "wait",
    "cancel_on": [
        {"event": "user.unsubscribed", "match": {"==": [{"var": "event.payload.user"}, {"var": "input.user"}]}}
    ],
    "nodes": [
        {"id": "wait", "type": "delay", "duration": "1h", "next": "nudge"},
        {"id": "nudge", "type": "action", "action": "noop"},
    ],
}


async def test_a_matching_event_cancels_a_delayed_execution_and_nothing_runs_after(
    db: Pool, database_url: str, settings: Settings
) -> None:
    workflow = await create_workflow(db, ONBOARDING)
    ada, _ = await start_execution(db, str(workflow.id), {"user": "ada"})
    bob, _ = await start_execution(db, str(workflow.id), {"user": "bob"})
    async with running_worker(db, database_url, settings):
        await wait_for(db, ada.id, lambda ex: ex.state == DELAYED)
        await wait_for(db, bob.id, lambda ex: ex.state == DELAYED)
        await post_event(db, "user.unsubscribed", {"user": "ada"}, None)
        cancelled = await wait_for(db, ada.id, lambda ex: ex.state == CANCELLED)
    assert cancelled.wake_at is None
    async with db.acquire() as conn:
        history = await list_history(conn, ada.id)
        event_id = await conn.fetchval("SELECT id FROM event_log WHERE type = 'user.unsubscribed'")
        bob_state = await conn.fetchval("SELECT state FROM executions WHERE id = $1", bob.id)
        steps = await conn.fetch("SELECT node FROM execution_steps WHERE execution_id = $1", ada.id)
    last = history[-1]
    assert (last.from_state, last.to_state, last.event) == (DELAYED, CANCELLED, "cancel")
    assert last.detail == {"reason": "cancel_on", "event_id": event_id, "event_type": "user.unsubscribed"}
    assert bob_state == DELAYED
    assert [s["node"] for s in steps] == ["wait"]


async def test_a_waiting_execution_is_cancelled_and_an_unmatched_one_waits_on(
    db: Pool, database_url: str, settings: Settings
) -> None:
    definition: JSONObject = {
        "name": f"w-{uuid.uuid4().hex[:6]}",
        "start": "wait",
        "cancel_on": [{"event": "user.unsubscribed"}],
        "nodes": [
            {"id": "wait", "type": "wait_for_event", "events": ["user.engaged"], "timeout": "1h", "on_event": "a"},
            {"id": "a", "type": "action", "action": "noop"},
        ],
    }
    workflow = await create_workflow(db, definition)
    ex, _ = await start_execution(db, str(workflow.id), {"user": "ada"})
    async with running_worker(db, database_url, settings):
        await wait_for(db, ex.id, lambda e: e.state == DELAYED)
        await post_event(db, "user.other", {}, None)
        await post_event(db, "user.unsubscribed", {}, None)
        await wait_for(db, ex.id, lambda e: e.state == CANCELLED)
