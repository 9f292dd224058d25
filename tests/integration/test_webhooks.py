"""The webhook node against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import uuid

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Pool
from conveyor.store.history import list_history, list_steps
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, run_flow, running_worker, wait_until_ended


def webhook(url: str, **extra: JSONValue) -> JSONObject:
    return {
        "id": "call",
        "type": "webhook",
        "method": "POST",
        "url": url,
        "body": {"email": "{{ input.email }}"},
        "headers": {"Authorization": "Bearer {{ input.token }}"},
        **extra,
    }


async def test_webhook_posts_templated_body_and_takes_json_output(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(webhook_peer.url)), {"email": "a@b.c", "token": "t0k"})).id
    )
    assert ex.state == "completed"
    assert ex.output == {"status": 200, "body": {"ok": True, "n": 1}}
    [request] = webhook_peer.received
    assert (request.key, request.body, request.headers["Authorization"]) == (
        f"{ex.id}:call:1",
        {"email": "a@b.c"},
        "Bearer t0k",
    )
    async with db.acquire() as conn:
        [step] = await list_steps(conn, ex.id)
    assert step.input == {"url": webhook_peer.url, "body": {"email": "a@b.c"}}
    assert "t0k" not in str(step.input)


async def test_webhook_failing_twice_then_succeeding_is_retried_with_one_key(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(503, 503)
    retry = {"max_attempts": 3, "backoff": "fixed", "delay": "100ms", "jitter": False}
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(webhook_peer.url, retry=retry)), {"email": "a@b.c", "token": "x"})).id
    )
    assert ex.state == "completed"
    assert webhook_peer.keys() == [f"{ex.id}:call:1"] * 3
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
        history = await list_history(conn, ex.id)
        logged = await conn.fetch(
            "SELECT attempt, status_code FROM webhook_logs WHERE execution_id = $1 ORDER BY id", ex.id
        )
    assert [(s.attempt, s.status) for s in steps] == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert [h.event for h in history].count("schedule_retry") == 2
    assert [(r["attempt"], r["status_code"]) for r in logged] == [(1, 503), (2, 503), (3, 200)]


async def test_webhook_fails_the_execution_when_attempts_run_out(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(*[503] * 10)
    retry = {"max_attempts": 2, "backoff": "fixed", "delay": "50ms", "jitter": False}
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(webhook_peer.url, retry=retry)), {"email": "a@b.c", "token": "x"})).id
    )
    assert ex.state == "failed"
    assert ex.error["details"]["status"] == 503
    assert len(webhook_peer.received) == 2


async def test_webhook_to_loopback_is_refused_unless_allowed(db: Pool, database_url: str) -> None:
    async with running_worker(db, database_url, Settings()):  # no allowed hosts
        for url in (
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://169.254.169.254/latest",
            "http://[::1]:9/x",
            "http://10.0.0.1/x",
        ):
            ex = await wait_until_ended(db, (await run_flow(db, flow(webhook(url)), {"email": "e", "token": "t"})).id)
            assert ex.state == "failed", url
            assert ex.error["code"] == "forbidden_webhook_target", url


async def test_webhook_timeout_hangs_up_and_fails_the_attempt(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()  # never answered while the test runs
    node = webhook(webhook_peer.url, timeout="200ms", retry={"max_attempts": 1})
    ex = await wait_until_ended(db, (await run_flow(db, flow(node), {"email": "e", "token": "t"})).id)
    assert ex.state == "failed"
    await poll_until(lambda: webhook_peer.abandoned, "the worker to hang up on the held request")
    assert webhook_peer.abandoned == webhook_peer.received
    assert len(webhook_peer.received) == 1
    async with db.acquire() as conn:
        [step] = await list_steps(conn, ex.id)
        [call] = await conn.fetch("SELECT status_code, error FROM webhook_logs WHERE execution_id = $1", ex.id)
    assert (step.attempt, step.status) == (1, "failed")
    assert step.error["code"] == "step_timeout"
    assert ex.error["code"] == "step_timeout"
    assert call["status_code"] is None
    assert call["error"]


async def test_an_executions_webhook_calls_are_listed_oldest_first_a_page_at_a_time(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(500)
    retry = {"max_attempts": 2, "backoff": "fixed", "delay": "50ms", "jitter": False}
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(webhook_peer.url, retry=retry)), {"email": "a@b.c", "token": "t0k"})).id
    )
    assert ex.state == "completed"

    first = await (await api.get(f"/executions/{ex.id}/webhooks?limit=1")).json()
    rest = await (await api.get(f"/executions/{ex.id}/webhooks?cursor={first['next_cursor']}")).json()

    calls = first["items"] + rest["items"]
    assert [(c["attempt"], c["status"], c["error"]) for c in calls] == [(1, 500, None), (2, 200, None)]
    assert {(c["method"], c["url"], c["node"], c["idempotency_key"]) for c in calls} == {
        ("POST", webhook_peer.url, "call", f"{ex.id}:call:1")
    }
    assert all(c["duration_ms"] >= 0 for c in calls)
    assert rest["next_cursor"] is None
    assert "t0k" not in json.dumps(calls)  # the request's headers are never kept


async def test_webhook_calls_of_an_unknown_execution_are_404(api: ApiClient) -> None:
    response = await api.get(f"/executions/{uuid.uuid4()}/webhooks")
    assert response.status == 404


async def test_a_webhook_that_declares_no_retry_is_tried_three_times_under_one_key(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(503, 500)  # then the default, 200
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(webhook_peer.url)), {"email": "e", "token": "t"})).id, 30
    )
    assert ex.state == "completed"
    assert len(webhook_peer.received) == 3
    assert len(set(webhook_peer.keys())) == 1
