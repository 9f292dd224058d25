"""Answers a worker reads are bounded: past CONVEYOR_MAX_ANSWER or CONVEYOR_ANSWER_SECONDS the read stops, and
the step (or the URL poll) fails with an error that names the setting; the process does not swell meanwhile."""

from __future__ import annotations

import resource
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import Reply, WebhookPeer
from testkit.poll import poll_until
from tests.answer_peer import AnswerPeer
from tests.corpus import corpus
from tests.integration.conftest import ApiClient, flow, run_flow, wait_until_ended

MAX_ANSWER = 1024 * 1024
MAX_GROWTH_BYTES = 64 * 1024 * 1024


@pytest.fixture
def settings() -> Settings:
    """Answers capped at 1 MiB and a second; results stored up to 4 MiB."""
    return Settings(
        lease_seconds=30.0,
        concurrency=10,
        webhook_allow_hosts=frozenset({"127.0.0.1"}),
        max_answer_bytes=MAX_ANSWER,
        answer_read_seconds=1.0,
        max_result_bytes=4 * MAX_ANSWER,
    )


def _peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@pytest.mark.parametrize("case", corpus("answers.json", "cases", "name"))
async def test_a_hostile_answer_fails_the_step_at_its_limit_after_one_call(
    db: Pool, worker: Worker, case: dict[str, Any]
) -> None:
    before = _peak_rss_bytes()
    async with AnswerPeer(case) as peer:
        call = {
            "id": "call",
            "type": "webhook",
            "method": "GET",
            "url": peer.url,
            "timeout": case.get("timeout", "1h"),
            "retry": {"max_attempts": 1},  # one call: what a retry policy does with it is not this test's
        }
        ex = await wait_until_ended(db, (await run_flow(db, flow(call))).id, timeout=15)
    assert ex.state == "failed", ex.output
    assert isinstance(ex.error, dict)
    assert case["error"].lower() in str(ex.error["message"]).lower()
    assert peer.requests == 1
    assert _peak_rss_bytes() - before < MAX_GROWTH_BYTES
    async with db.acquire() as conn:
        logged = await conn.fetchval("SELECT error FROM webhook_logs WHERE execution_id = $1", ex.id)
    assert case["error"].lower() in logged.lower()


def test_the_corpus_holds_every_shape_of_the_class() -> None:
    shapes = {param.values[0]["shape"] for param in corpus("answers.json", "cases", "name")}
    assert {"huge", "endless_chunked", "trickle", "gzip_bomb", "huge_header"} <= shapes


async def test_an_answer_just_under_the_cap_is_read_whole(db: Pool, worker: Worker) -> None:
    size = MAX_ANSWER - 1024
    async with AnswerPeer({"shape": "huge", "bytes": size}) as peer:
        call = {"id": "call", "type": "webhook", "method": "GET", "url": peer.url}
        ex = await wait_until_ended(db, (await run_flow(db, flow(call))).id)
    assert ex.state == "completed"
    assert isinstance(ex.output, dict)
    assert ex.output["body"] == "a" * size


async def _trigger(api: ApiClient, url: str) -> str:
    workflow = await (
        await api.post(
            "/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}, name=f"wf-{uuid.uuid4().hex[:8]}")
        )
    ).json()
    definition = {"type": "poll", "url": url, "items": "data", "key": "id", "interval": "1s"}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    body: JSONObject = await response.json()
    assert response.status == 201, body
    return str(body["id"])


@pytest.mark.parametrize(
    ("shape", "setting"), [("endless_chunked", "CONVEYOR_MAX_ANSWER"), ("trickle_chunked", "CONVEYOR_ANSWER_SECONDS")]
)
async def test_a_url_poll_whose_answer_runs_away_shows_the_limit_it_hit(
    api: ApiClient, db: Pool, worker: Worker, shape: str, setting: str
) -> None:
    async with AnswerPeer({"shape": shape}) as peer:
        trigger_id = await _trigger(api, peer.url)

        async def in_error() -> bool:
            body = await (await api.get(f"/triggers/{trigger_id}")).json()
            return body["status"] == "error" and setting in (body["last_error"] or "")

        await poll_until(in_error, f"the poll to fail naming {setting}", timeout_seconds=15)


async def test_a_url_poll_reads_a_list_longer_than_one_network_read(
    api: ApiClient, db: Pool, worker: Worker, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    items = [{"id": i, "padding": "p" * 100} for i in range(3000)]  # about 350 KB: many reads of the socket

    async def serve(request: web.Request) -> web.Response:
        return web.json_response({"data": items})

    app = web.Application()
    app.router.add_get("/items", serve)
    server = await aiohttp_server(app, host="127.0.0.1")
    trigger_id = await _trigger(api, str(server.make_url("/items")))

    async def started() -> bool:
        async with db.acquire() as conn:
            count = await conn.fetchval("SELECT count(*) FROM executions WHERE trigger_id = $1", uuid.UUID(trigger_id))
        return bool(count == len(items))

    await poll_until(started, "an execution per item", timeout_seconds=30)


async def test_a_failed_call_whose_answer_is_over_the_cap_is_retried_as_any_failure(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(Reply(503, '"' + "e" * (2 * MAX_ANSWER) + '"'))
    retry = {"max_attempts": 2, "backoff": "fixed", "delay": "50ms", "jitter": False}
    call = {"id": "call", "type": "webhook", "method": "GET", "url": webhook_peer.url, "retry": retry}
    ex = await wait_until_ended(db, (await run_flow(db, flow(call))).id)
    assert ex.state == "completed"
    assert len(webhook_peer.received) == 2
    async with db.acquire() as conn:
        first = await conn.fetchrow(
            "SELECT status_code, error FROM webhook_logs WHERE execution_id = $1 AND attempt = 1", ex.id
        )
    assert first is not None
    assert first["status_code"] == 503
    assert "CONVEYOR_MAX_ANSWER" in first["error"]
