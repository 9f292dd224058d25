"""Pause, resume, cancel and retry: legal ones move the machine, illegal ones are 409."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from tests.integration.conftest import HeldTarget, flow, wait_for, wait_until_ended


async def _start(
    api: TestClient, definition: dict[str, object], input_: dict[str, object] | None = None
) -> dict[str, object]:
    workflow = await (await api.post("/workflows", json=definition)).json()
    return await (await api.post(f"/workflows/{workflow['id']}/executions", json={"input": input_ or {}})).json()


async def _state(api: TestClient, execution_id: object) -> str:
    return str((await (await api.get(f"/executions/{execution_id}")).json())["state"])


async def test_pause_after_completion_is_409(api: TestClient, db: Pool, worker: Worker) -> None:
    ex = await _start(api, flow({"id": "a", "type": "action", "action": "noop"}))
    await wait_until_ended(db, ex["id"])  # type: ignore[arg-type]
    response = await api.post(f"/executions/{ex['id']}/pause")
    assert response.status == 409
    assert (await response.json())["error"]["code"] == "illegal_transition"


async def test_paused_delay_does_not_fire_until_resumed(api: TestClient, db: Pool, worker: Worker) -> None:
    ex = await _start(
        api,
        flow({"id": "wait", "type": "delay", "duration": "300ms"}, {"id": "end", "type": "action", "action": "noop"}),
    )
    await asyncio.sleep(0.15)
    assert await _state(api, ex["id"]) == "delayed"
    paused = await api.post(f"/executions/{ex['id']}/pause")
    assert paused.status == 200
    assert (await paused.json())["state"] == "paused"
    await asyncio.sleep(0.6)
    assert await _state(api, ex["id"]) == "paused"
    resumed = await api.post(f"/executions/{ex['id']}/resume")
    assert (await resumed.json())["state"] == "delayed"
    assert (await wait_until_ended(db, ex["id"])).state == "completed"  # type: ignore[arg-type]
    history = (await (await api.get(f"/executions/{ex['id']}/history")).json())["items"]
    assert [h["event"] for h in history if h["event"] in ("pause", "resume")] == ["pause", "resume"]


async def test_cancel_a_delayed_execution_ends_it(api: TestClient, db: Pool, worker: Worker) -> None:
    ex = await _start(api, flow({"id": "wait", "type": "delay", "duration": "1h"}))
    await asyncio.sleep(0.2)
    response = await api.post(f"/executions/{ex['id']}/cancel")
    assert (await response.json())["state"] == "cancelled"
    assert (await api.post(f"/executions/{ex['id']}/resume")).status == 409


async def test_retry_of_a_failed_execution_runs_the_failed_step_again(
    api: TestClient, db: Pool, worker: Worker
) -> None:
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
    assert (await wait_until_ended(db, ex["id"])).state == "failed"  # type: ignore[arg-type]
    async with db.acquire() as conn:
        await conn.execute("INSERT INTO email_templates (name, subject, text_body) VALUES ('late_template', 's', 't')")
    response = await api.post(f"/executions/{ex['id']}/retry")
    assert response.status == 200
    assert (await wait_until_ended(db, ex["id"])).state == "completed"  # type: ignore[arg-type]


async def test_pausing_a_running_step_lets_it_finish_first(
    api: TestClient, db: Pool, worker: Worker, held_target: HeldTarget
) -> None:
    ex = await _start(
        api,
        flow(
            {"id": "call", "type": "webhook", "url": held_target.url},
            {"id": "end", "type": "action", "action": "noop"},
        ),
    )
    await asyncio.wait_for(held_target.arrived.wait(), 10)
    response = await api.post(f"/executions/{ex['id']}/pause")
    body = await response.json()
    assert (body["state"], body["pause_requested"]) == ("running", True)
    held_target.release.set()
    paused = await wait_for(db, ex["id"], lambda e: e.state == "paused", timeout=5)  # type: ignore[arg-type]
    assert paused.current_node == "end"
    await api.post(f"/executions/{ex['id']}/resume")
    assert (await wait_until_ended(db, ex["id"])).state == "completed"  # type: ignore[arg-type]
