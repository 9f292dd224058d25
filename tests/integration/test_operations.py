"""Pause, resume, cancel and retry: legal ones move the machine, illegal ones are 409."""

from __future__ import annotations

import uuid

from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import (
    ApiClient,
    database_now,
    flow,
    history_events,
    run_flow,
    wait_for,
    wait_until_ended,
)


async def _start(api: ApiClient, definition: JSONObject, input_: JSONObject | None = None) -> JSONObject:
    workflow = await (await api.post("/workflows", json=definition)).json()
    started: JSONObject = await (
        await api.post(f"/workflows/{workflow['id']}/executions", json={"input": input_ or {}})
    ).json()
    return started


async def _state(api: ApiClient, execution_id: object) -> str:
    return str((await (await api.get(f"/executions/{execution_id}")).json())["state"])


async def test_pause_after_completion_is_409(api: ApiClient, db: Pool, worker: Worker) -> None:
    ex = await _start(api, flow({"id": "a", "type": "action", "action": "noop"}))
    await wait_until_ended(db, uuid.UUID(ex["id"]))
    response = await api.post(f"/executions/{ex['id']}/pause")
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "illegal_transition"


async def test_paused_delay_does_not_fire_until_resumed(api: ApiClient, db: Pool, worker: Worker) -> None:
    ex = await _start(
        api,
        flow({"id": "wait", "type": "delay", "duration": "1s"}, {"id": "end", "type": "action", "action": "noop"}),
    )
    delayed = await wait_for(db, uuid.UUID(ex["id"]), lambda e: e.state == "delayed")
    assert delayed.wake_at is not None
    paused = await api.post(f"/executions/{ex['id']}/pause")
    assert paused.status == 200
    assert (await paused.json())["state"] == "paused"
    # The race to lose: the delay falls due, and the worker claims after that. Prove both happened.
    wake_at = delayed.wake_at

    async def due() -> bool:
        return await database_now(db) > wake_at

    await poll_until(due, "the database's clock to pass the paused delay's wake_at")
    later = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    assert (await wait_until_ended(db, later.id)).state == "completed"  # claimed after the delay fell due
    assert await _state(api, ex["id"]) == "paused"
    assert "wake" not in await history_events(db, uuid.UUID(ex["id"]))
    resumed = await api.post(f"/executions/{ex['id']}/resume")
    assert (await resumed.json())["state"] == "delayed"
    assert (await wait_until_ended(db, uuid.UUID(ex["id"]))).state == "completed"
    history = (await (await api.get(f"/executions/{ex['id']}/history")).json())["items"]
    assert [h["event"] for h in history if h["event"] in ("pause", "resume")] == ["pause", "resume"]


async def test_cancel_a_delayed_execution_ends_it(api: ApiClient, db: Pool, worker: Worker) -> None:
    ex = await _start(api, flow({"id": "wait", "type": "delay", "duration": "1h"}))
    await wait_for(db, uuid.UUID(ex["id"]), lambda e: e.state == "delayed")
    response = await api.post(f"/executions/{ex['id']}/cancel")
    assert (await response.json())["state"] == "cancelled"
    assert (await api.post(f"/executions/{ex['id']}/resume")).status == 409


async def test_retry_of_a_failed_execution_runs_the_failed_step_again(api: ApiClient, db: Pool, worker: Worker) -> None:
    ex = await _start(
        api,
        flow(
            {
                "id": "mail",
                "type": "action",
                "action": "send_email",
                "params": {"to": "a@example.com", "template": "{{ input.template }}"},
            }
        ),
        {"template": "late_template"},  # named at run time: saving cannot know it is missing
    )
    assert (await wait_until_ended(db, uuid.UUID(ex["id"]))).state == "failed"
    async with db.acquire() as conn:
        await conn.execute("INSERT INTO email_templates (name, subject, text_body) VALUES ('late_template', 's', 't')")
    response = await api.post(f"/executions/{ex['id']}/retry")
    assert response.status == 200
    assert (await wait_until_ended(db, uuid.UUID(ex["id"]))).state == "completed"


async def test_pausing_a_running_step_lets_it_finish_first(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    ex = await _start(
        api,
        flow(
            {"id": "call", "type": "webhook", "url": webhook_peer.url},
            {"id": "end", "type": "action", "action": "noop"},
        ),
    )
    await webhook_peer.arrivals(1)
    response = await api.post(f"/executions/{ex['id']}/pause")
    body = await response.json()
    assert (body["state"], body["pause_requested"]) == ("running", True)
    webhook_peer.release()
    paused = await wait_for(db, uuid.UUID(ex["id"]), lambda e: e.state == "paused", timeout=5)
    assert paused.current_node == "end"
    await api.post(f"/executions/{ex['id']}/resume")
    assert (await wait_until_ended(db, uuid.UUID(ex["id"]))).state == "completed"
