"""POST /executions/bulk/{event}: many executions at once, set-based, with exact counts; and DELETE /workflows."""

from __future__ import annotations

import time
import uuid

from bench.seed import start_many
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.executions import get_execution
from testkit.peers import WebhookPeer
from tests.integration.conftest import ApiClient, flow, wait_for, wait_until_ended


async def _workflow(api: ApiClient, name: str, *nodes: dict[str, object]) -> str:
    definition = flow(*(nodes or ({"id": "a", "type": "action", "action": "noop"},)), name=name)
    response = await api.post("/workflows", json=definition)
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def _start(api: ApiClient, workflow: str) -> str:
    return str((await (await api.post(f"/workflows/{workflow}/executions", json={"input": {}})).json())["id"])


async def test_ten_thousand_executions_are_cancelled_by_filter_in_seconds_and_the_dry_run_changes_nothing(
    api: ApiClient, db: Pool
) -> None:
    workflow = await _workflow(api, "many")
    await start_many(db, uuid.UUID(workflow), "a", 10_000)
    dry = await (await api.post("/executions/bulk/cancel", json={"workflow": "many", "dry_run": True})).json()
    assert dry["changed"] == {"total": 10_000, "by_state": {"idle": 10_000}}
    assert dry["skipped"]["total"] == 0
    assert (await (await api.get("/executions?workflow=many&state=cancelled")).json())["items"] == []
    started = time.perf_counter()
    response = await api.post("/executions/bulk/cancel", json={"workflow": "many"})
    seconds = time.perf_counter() - started
    body = await response.json()
    assert response.status == 200
    assert body["changed"] == {"total": 10_000, "by_state": {"idle": 10_000}}
    assert (body["skipped"]["total"], body["busy"], body["dry_run"]) == (0, 0, False)
    assert seconds < 10, f"bulk cancel of 10,000 took {seconds:.1f} s"
    async with db.acquire() as conn:
        cancels = await conn.fetchval("SELECT count(*) FROM execution_history WHERE event = 'cancel'")
        states = await conn.fetch("SELECT state, count(*) FROM executions GROUP BY state")
    assert cancels == 10_000
    assert {r["state"]: r["count"] for r in states} == {"cancelled": 10_000}
    again = await (await api.post("/executions/bulk/cancel", json={"state": ["cancelled"], "dry_run": True})).json()
    assert again["skipped"] == {"total": 10_000, "by_state": {"cancelled": 10_000}}


async def test_states_that_do_not_allow_the_event_are_skipped_and_counted(api: ApiClient, db: Pool) -> None:
    workflow = await _workflow(api, "mixed")
    idle, paused, cancelled = [await _start(api, workflow) for _ in range(3)]
    await api.post(f"/executions/{paused}/pause")
    await api.post(f"/executions/{cancelled}/cancel")
    body = await (await api.post("/executions/bulk/pause", json={"workflow": workflow})).json()
    assert body["changed"] == {"total": 1, "by_state": {"idle": 1}}
    assert body["skipped"] == {"total": 2, "by_state": {"cancelled": 1, "paused": 1}}
    body = await (await api.post("/executions/bulk/resume", json={"ids": [idle, paused, cancelled]})).json()
    assert body["changed"] == {"total": 2, "by_state": {"paused": 2}}
    history = (await (await api.get(f"/executions/{paused}/history")).json())["items"]
    assert [(h["event"], h["detail"]) for h in history[-1:]] == [
        ("resume", {"by": "operator", "actor": "anonymous", "bulk": True})
    ]
    assert (await (await api.get(f"/executions/{paused}")).json())["state"] == "idle"


async def test_a_running_step_is_asked_to_pause_and_the_answer_says_it_is_pending(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    workflow = await _workflow(
        api,
        "held",
        {"id": "call", "type": "webhook", "url": webhook_peer.url},
        {"id": "end", "type": "action", "action": "noop"},
    )
    webhook_peer.hold()
    execution_id = await _start(api, workflow)
    await webhook_peer.arrivals(1)
    body = await (await api.post("/executions/bulk/pause", json={"state": "running"})).json()
    assert body["pause_requested"] == {"total": 1, "by_state": {"running": 1}}
    assert body["changed"]["total"] == 0
    webhook_peer.release()
    paused = await wait_for(db, uuid.UUID(execution_id), lambda e: e.state == "paused")
    assert paused.current_node == "end"


async def test_a_row_another_transaction_holds_is_counted_busy(api: ApiClient, db: Pool) -> None:
    workflow = await _workflow(api, "locked")
    held, free = await _start(api, workflow), await _start(api, workflow)
    async with db.acquire() as conn, conn.transaction():
        await get_execution(conn, uuid.UUID(held), for_update=True)
        body = await (await api.post("/executions/bulk/cancel", json={"workflow": "locked"})).json()
    assert (body["changed"]["total"], body["busy"]) == (1, 1)
    assert (await (await api.get(f"/executions/{free}")).json())["state"] == "cancelled"
    assert (await (await api.get(f"/executions/{held}")).json())["state"] == "idle"


async def test_hostile_bulk_requests_are_4xx_naming_the_field(api: ApiClient) -> None:
    cases: list[tuple[str, object, int, str]] = [
        ("cancel", {}, 422, "/ids"),
        ("cancel", {"ids": []}, 422, "/ids"),
        ("cancel", {"ids": ["nope"]}, 422, "/ids/0"),
        ("cancel", {"state": "bogus"}, 422, "/state"),
        ("cancel", {"state": 5}, 422, "/state"),
        ("cancel", {"workflow": "no-such-workflow"}, 422, "/workflow"),
        ("cancel", {"created_after": "2030-01-01T00:00:00"}, 422, "/created_after"),
        ("cancel", {"created_after": 10**30}, 422, "/created_after"),
        ("cancel", {"dry_run": "maybe", "state": "idle"}, 422, "/dry_run"),
        ("cancel", {"surprise": 1}, 422, "/surprise"),
        ("cancel", [1], 422, "/"),
        ("explode", {"ids": [str(uuid.uuid4())]}, 404, "event"),
    ]
    for event, body, status, field in cases:
        response = await api.post(f"/executions/bulk/{event}", json=body)
        assert response.status == status, (event, body, await response.text())
        assert (await response.json())["error"]["details"]["field"] == field, (event, body)


async def test_deleting_a_workflow_with_unfinished_executions_is_409_unless_they_are_cancelled(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    workflow = await _workflow(api, "retiring", {"id": "wait", "type": "delay", "duration": "1h"})
    execution_id = await _start(api, workflow)
    await wait_for(db, uuid.UUID(execution_id), lambda e: e.state == "delayed")
    refused = await api.delete("/workflows/retiring")
    assert refused.status == 409
    assert (await refused.json())["error"]["details"]["unfinished"] == 1
    assert (await api.delete("/workflows/retiring?cancel_running=perhaps")).status == 422
    response = await api.delete("/workflows/retiring?cancel_running=true")
    assert response.status == 200
    body = await response.json()
    assert body["active"] is False
    assert body["cancelled"]["changed"] == {"total": 1, "by_state": {"delayed": 1}}
    assert (await wait_until_ended(db, uuid.UUID(execution_id))).state == "cancelled"
    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    assert history[-1]["event"] == "cancel"
    started = await api.post(f"/workflows/{workflow}/executions", json={"input": {}})
    assert started.status == 409
    assert (await started.json())["error"]["code"] == "workflow_inactive"
    assert (await api.delete(f"/workflows/{workflow}")).status == 200  # nothing unfinished: deactivating again is fine


async def test_a_bulk_cancel_takes_each_parents_running_child_with_it(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    child = await _workflow(api, "bulk-child", {"id": "call", "type": "webhook", "url": webhook_peer.url})
    parent = await _workflow(api, "bulk-parent", {"id": "sub", "type": "shared_flow", "flow": child})
    parent_id = await _start(api, parent)
    await webhook_peer.arrivals(1)
    body = await (await api.post("/executions/bulk/cancel", json={"workflow": parent})).json()
    assert body["changed"]["total"] == 1
    async with db.acquire() as conn:
        child_id = await conn.fetchval("SELECT id FROM executions WHERE parent_id = $1", uuid.UUID(parent_id))
    cancelled = await wait_until_ended(db, child_id)
    assert cancelled.state == "cancelled"
    webhook_peer.release()
