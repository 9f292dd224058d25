"""Integration fixtures: an in-process worker, the HTTP API, local peers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from conveyor.config import Settings
from conveyor.db import Pool
from conveyor.engine.operations import create_workflow, start_execution
from conveyor.engine.runtime import worker as make_worker
from conveyor.engine.store.executions import Execution, get_execution
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES


@pytest.fixture
async def worker(db: Pool, database_url: str, settings: Settings) -> AsyncIterator[Worker]:
    """A worker running in this process on the test database."""
    async with make_worker(db, database_url, settings) as w:
        task = asyncio.create_task(w.run())
        yield w
        w.stop()
        await asyncio.wait_for(task, 30)


@pytest.fixture
async def api(db: Pool, settings: Settings, aiohttp_client: Callable[..., Awaitable[TestClient]]) -> TestClient:
    """An HTTP client for the API on the test database."""
    return await aiohttp_client(create_app(db, settings))


async def wait_until_ended(pool: Pool, execution_id: uuid.UUID, timeout: float = 20.0) -> Execution:
    """Poll until the execution reaches a terminal state, or fail the test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with pool.acquire() as conn:
            ex = await get_execution(conn, execution_id)
        if ex.state in TERMINAL_STATES:
            return ex
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"execution still {ex.state} after {timeout}s")
        await asyncio.sleep(0.05)


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
