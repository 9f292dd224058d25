"""Retry from a chosen node: a failed or completed execution runs again from there, as a new visit."""

from __future__ import annotations

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.emails import EmailFilter, list_emails
from tests.integration.conftest import ApiClient, flow, wait_for, wait_until_ended

ONCE = {"retry": {"max_attempts": 1}}  # one attempt: the default retry policy of webhooks is not this test's


def mail_then_noop() -> dict[str, object]:
    return flow(
        {
            "id": "mail",
            "type": "action",
            "action": "send_email",
            "params": {"to": "a@example.com", "template": "generic_welcome"},
        },
        {"id": "done", "type": "action", "action": "noop", "params": {"ok": True}},
    )


async def _start(api: ApiClient, definition: dict[str, object]) -> str:
    workflow = await (await api.post("/workflows", json=definition)).json()
    started = await (await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}})).json()
    return str(started["id"])


async def test_a_completed_execution_runs_again_from_a_node_with_a_new_idempotency_key(
    api: ApiClient, db: Pool, worker: Worker
) -> None:
    execution_id = await _start(api, mail_then_noop())
    first = await wait_until_ended(db, execution_id)  # type: ignore[arg-type]
    assert first.state == "completed"
    response = await api.post(f"/executions/{execution_id}/retry", json={"from_node": "mail"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["state"], body["current_node"], body["output"]) == ("running", "mail", None)
    again = await wait_for(db, first.id, lambda e: e.state == "completed" and e.visit > first.visit)
    assert again.output == {"ok": True}
    async with db.acquire() as conn:
        emails = await list_emails(conn, EmailFilter(execution_id=first.id), None, 10)
    assert len(emails) == 2  # the re-run is meant: a new visit, a new key, a second email
    assert emails[0].idempotency_key != emails[1].idempotency_key
    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    rerun = next(h for h in history if h["event"] == "rerun")
    assert (rerun["from"], rerun["to"], rerun["node"]) == ("completed", "running", "mail")
    assert rerun["detail"] == {"by": "operator", "actor": "anonymous", "from_node": "mail"}


async def test_a_failed_execution_runs_again_from_an_earlier_node(api: ApiClient, db: Pool, worker: Worker) -> None:
    execution_id = await _start(
        api,
        flow(
            {"id": "first", "type": "action", "action": "noop"},
            {"id": "broken", "type": "webhook", "url": "http://127.0.0.1:9/unreachable", "timeout": "1s", **ONCE},
        ),
    )
    assert (await wait_until_ended(db, execution_id)).state == "failed"  # type: ignore[arg-type]
    response = await api.post(f"/executions/{execution_id}/retry", json={"from_node": "first"})
    assert (await response.json())["current_node"] == "first"
    assert (await wait_until_ended(db, execution_id)).state == "failed"  # type: ignore[arg-type]
    steps = (await (await api.get(f"/executions/{execution_id}/steps")).json())["items"]
    assert [s["node"] for s in steps] == ["first", "broken", "first", "broken"]
    assert len({s["visit"] for s in steps}) == 4


async def test_an_unknown_node_is_422_and_a_running_execution_is_409(api: ApiClient, db: Pool) -> None:
    execution_id = await _start(api, mail_then_noop())
    for body, field in (({"from_node": "ghost"}, "/from_node"), ({"from_node": 7}, "/from_node"), ({"x": 1}, "/x")):
        response = await api.post(f"/executions/{execution_id}/retry", json=body)
        assert response.status == 422, body
        assert (await response.json())["error"]["details"]["field"] == field
    response = await api.post(f"/executions/{execution_id}/retry", json={"from_node": "mail"})
    assert response.status == 409  # still idle: nothing to run again
    assert (
        await api.post(f"/executions/{execution_id}/retry", data="[", headers={"Content-Type": "application/json"})
    ).status == 400
