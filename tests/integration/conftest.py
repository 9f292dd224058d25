"""Integration fixtures: an in-process worker, the HTTP API, waits on an execution's facts."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TypeAlias

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.engine.runtime import worker as make_worker
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import Pool
from conveyor.store.executions import Execution, get_execution
from conveyor.store.history import list_history
from testkit.poll import poll_until
from tests.browser import Page, chromium, chromium_path

ApiClient: TypeAlias = "TestClient[web.Request, web.Application]"
# The header a body sent with `data=` needs to be read as JSON (`json=` sets it itself).
JSON = {"Content-Type": "application/json"}


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
async def page() -> AsyncIterator[Page]:
    """A headless Chromium tab; the test is skipped where Debian's chromium is not installed."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    async with chromium(executable) as tab:
        yield tab


@pytest.fixture
async def api(db: Pool, settings: Settings, aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> ApiClient:
    """An HTTP client for the API on the test database, with the workers' settings (127.0.0.1 reachable)."""
    return await aiohttp_client(create_app(db, settings))


async def wait_for(
    pool: Pool, execution_id: uuid.UUID, ready: Callable[[Execution], bool], timeout: float = 20.0
) -> Execution:
    """Poll until the execution is `ready`, or fail the test."""
    last: Execution | None = None

    async def check() -> Execution | None:
        nonlocal last
        async with pool.acquire() as conn:
            last = await get_execution(conn, execution_id)
        return last if ready(last) else None

    try:
        ex = await poll_until(check, f"execution {execution_id} to be ready", timeout_seconds=timeout)
    except TimeoutError as exc:
        raise TimeoutError(f"{exc}; it is still {last.state if last else 'unread'}") from None
    assert ex is not None
    return ex


async def wait_until_ended(pool: Pool, execution_id: uuid.UUID, timeout: float = 20.0) -> Execution:
    """Poll until the execution reaches a terminal state, or fail the test."""
    return await wait_for(pool, execution_id, lambda ex: ex.state in TERMINAL_STATES, timeout)


async def history_events(pool: Pool, execution_id: uuid.UUID) -> list[str]:
    """The events of the execution's history, in order."""
    async with pool.acquire() as conn:
        return [h.event for h in await list_history(conn, execution_id)]


async def wait_for_event(pool: Pool, execution_id: uuid.UUID, event: str, timeout: float = 20.0) -> None:
    """Poll until the execution's history holds `event`."""

    async def check() -> bool:
        return event in await history_events(pool, execution_id)

    await poll_until(check, f"a {event!r} history row of execution {execution_id}", timeout_seconds=timeout)


async def database_now(pool: Pool) -> datetime:
    """The database's clock."""
    async with pool.acquire() as conn:
        now: datetime = await conn.fetchval("SELECT now()")
    return now


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
