"""Integration fixtures: an in-process worker, the HTTP API, local peers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conveyor.config import Settings
from conveyor.engine.operations import create_workflow, start_execution
from conveyor.engine.runtime import worker as make_worker
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import Pool
from conveyor.store.executions import Execution, get_execution


@contextlib.asynccontextmanager
async def running_worker(pool: Pool, database_url: str, settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this process for the block, stopped (and drained) when it ends."""
    async with make_worker(pool, database_url, settings) as w:
        task = asyncio.create_task(w.run())
        try:
            yield w
        finally:
            w.stop()
            await asyncio.wait_for(task, 30)


@pytest.fixture
async def worker(db: Pool, database_url: str, settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this process on the test database."""
    async with running_worker(db, database_url, settings) as w:
        yield w


@pytest.fixture
async def api(db: Pool, aiohttp_client: Callable[..., Awaitable[TestClient]]) -> TestClient:
    """An HTTP client for the API on the test database."""
    return await aiohttp_client(create_app(db))


async def wait_for(
    pool: Pool, execution_id: uuid.UUID, ready: Callable[[Execution], bool], timeout: float = 20.0
) -> Execution:
    """Poll until the execution is `ready`, or fail the test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with pool.acquire() as conn:
            ex = await get_execution(conn, execution_id)
        if ready(ex):
            return ex
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"execution still {ex.state} after {timeout}s")
        await asyncio.sleep(0.05)


async def wait_until_ended(pool: Pool, execution_id: uuid.UUID, timeout: float = 20.0) -> Execution:
    """Poll until the execution reaches a terminal state, or fail the test."""
    return await wait_for(pool, execution_id, lambda ex: ex.state in TERMINAL_STATES, timeout)


@dataclass
class HeldTarget:
    """A local webhook target that holds every request open until released."""

    url: str = ""
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # the caller closed before the answer
    calls: int = 0


@pytest.fixture
async def held_target(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> HeldTarget:
    """A webhook target on 127.0.0.1 whose answers wait for `release`."""
    target = HeldTarget()

    async def hold(request: web.Request) -> web.Response:
        target.calls += 1
        target.arrived.set()
        try:
            await target.release.wait()
        except asyncio.CancelledError:  # the test server cancels a handler whose client went away
            target.hung_up.set()
            raise
        return web.json_response({"done": True})

    app = web.Application()
    app.router.add_post("/hold", hold)
    server = await aiohttp_server(app, host="127.0.0.1")
    target.url = str(server.make_url("/hold"))
    return target


async def run_flow(pool: Pool, definition: JSONObject, input_: JSONObject | None = None) -> Execution:
    """Create a workflow and start one execution of it."""
    workflow = await create_workflow(pool, definition)
    execution, _ = await start_execution(pool, str(workflow.id), input_ or {})
    return execution


def flow(*nodes: JSONObject, name: str | None = None) -> JSONObject:
    """A definition whose nodes are chained by `next` unless they say otherwise, starting at the first."""
    chained = []
    for i, node in enumerate(nodes):
        if "next" not in node and node.get("type") != "condition" and i + 1 < len(nodes):
            node = {**node, "next": nodes[i + 1]["id"]}
        chained.append(node)
    return {"name": name or f"flow-{uuid.uuid4().hex[:8]}", "start": nodes[0]["id"], "nodes": chained}
