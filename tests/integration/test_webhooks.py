"""The webhook node against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.history import list_history, list_steps
from tests.integration.conftest import flow, run_flow, running_worker, wait_until_ended


@dataclass
class Target:
    """A local HTTP server that fails its first `failures` requests."""

    failures: int = 0
    requests: list[dict[str, object]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
async def target(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> AsyncIterator[Target]:
    state = Target()

    async def hook(request: web.Request) -> web.Response:
        state.requests.append(
            {
                "key": request.headers.get("Idempotency-Key"),
                "body": await request.json(),
                "auth": request.headers.get("Authorization"),
            }
        )
        if len(state.requests) <= state.failures:
            return web.json_response({"error": "try later"}, status=503)
        return web.json_response({"accepted": True, "n": len(state.requests)})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app, host="127.0.0.1")
    state.url = str(server.make_url("/hook"))
    yield state


def webhook(url: str, **extra: object) -> dict[str, object]:
    return {
        "id": "call",
        "type": "webhook",
        "method": "POST",
        "url": url,
        "body": {"email": "{{ input.email }}"},
        "headers": {"Authorization": "Bearer {{ input.token }}"},
        **extra,
    }


async def test_webhook_posts_templated_body_and_takes_json_output(db: Pool, worker: Worker, target: Target) -> None:
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(target.url)), {"email": "a@b.c", "token": "t0k"})).id
    )
    assert ex.state == "completed"
    assert ex.output == {"status": 200, "body": {"accepted": True, "n": 1}}
    assert target.requests == [{"key": f"{ex.id}:call:1", "body": {"email": "a@b.c"}, "auth": "Bearer t0k"}]
    async with db.acquire() as conn:
        [step] = await list_steps(conn, ex.id)
    assert step.input == {"url": target.url, "body": {"email": "a@b.c"}}
    assert "t0k" not in str(step.input)


async def test_webhook_failing_twice_then_succeeding_is_retried_with_one_key(
    db: Pool, worker: Worker, target: Target
) -> None:
    target.failures = 2
    retry = {"max_attempts": 3, "backoff": "fixed", "delay": "100ms", "jitter": False}
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(target.url, retry=retry)), {"email": "a@b.c", "token": "x"})).id
    )
    assert ex.state == "completed"
    assert len(target.requests) == 3
    assert {r["key"] for r in target.requests} == {f"{ex.id}:call:1"}
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
        history = await list_history(conn, ex.id)
        logged = await conn.fetch(
            "SELECT attempt, status_code FROM webhook_logs WHERE execution_id = $1 ORDER BY id", ex.id
        )
    assert [(s.attempt, s.status) for s in steps] == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert [h.event for h in history].count("schedule_retry") == 2
    assert [(r["attempt"], r["status_code"]) for r in logged] == [(1, 503), (2, 503), (3, 200)]


async def test_webhook_fails_the_execution_when_attempts_run_out(db: Pool, worker: Worker, target: Target) -> None:
    target.failures = 10
    retry = {"max_attempts": 2, "backoff": "fixed", "delay": "50ms", "jitter": False}
    ex = await wait_until_ended(
        db, (await run_flow(db, flow(webhook(target.url, retry=retry)), {"email": "a@b.c", "token": "x"})).id
    )
    assert ex.state == "failed"
    assert ex.error["details"]["status"] == 503
    assert len(target.requests) == 2


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


async def test_webhook_timeout_fails_the_attempt(
    db: Pool, worker: Worker, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/slow", slow)
    server = await aiohttp_server(app, host="127.0.0.1")
    node = webhook(str(server.make_url("/slow")), timeout="200ms")
    ex = await wait_until_ended(db, (await run_flow(db, flow(node), {"email": "e", "token": "t"})).id)
    assert ex.state == "failed"
    assert ex.error["code"] in ("step_failed", "step_timeout")
