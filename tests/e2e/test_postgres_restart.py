"""PostgreSQL stopped hard (`-m immediate`, as a crash) and started again under a running worker and the API:
everything comes back by itself, nothing is lost, a delay that fell due meanwhile fires at once, and the API
answers 503 with Retry-After, never 500, while the database is away."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.chaos_feed import definitions
from bench.chaos_tally import side_effects
from bench.cluster import Cluster, own_cluster
from conveyor.checker import check_history
from conveyor.commands.operations import create_workflow, start_execution
from conveyor.config import Settings
from conveyor.db import create_pool
from conveyor.errors import DatabaseUnavailableError
from conveyor.http.app import create_app
from conveyor.secret_cipher import generate_key
from conveyor.store import Pool
from conveyor.store.schema import apply_schema
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.e2e.harness import WorkerProcess, spawn_worker_process, stop_worker_process
from tests.integration.conftest import ApiClient

_OUTAGE_SECONDS = 3.0
_DELAYED = 20


@pytest.fixture
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A PostgreSQL of the test's own, removed afterwards."""
    with own_cluster(tmp_path_factory.mktemp("restart") / "pg") as cluster:
        yield cluster


@pytest.fixture
async def own_pool(cluster: Cluster) -> AsyncIterator[Pool]:
    """A pool on the cluster, schema applied."""
    pool = await create_pool(cluster.url, max_size=5)
    await apply_schema(pool)
    try:
        yield pool
    finally:
        await pool.close()


async def _states(url: str, ids: list[uuid.UUID]) -> dict[str, int]:
    pool = await create_pool(url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT state, count(*) AS n FROM executions WHERE id = ANY($1::uuid[]) GROUP BY state", ids
            )
    finally:
        await pool.close()
    return {r["state"]: r["n"] for r in rows}


async def _start(pool: Pool) -> uuid.UUID | None:
    """Start a quick execution, as a client would: on a 503 (a stale pooled connection), None, to try again."""
    try:
        execution, _ = await start_execution(pool, "quick", {})
    except DatabaseUnavailableError:
        return None
    return execution.id


def _logged_after(worker: WorkerProcess, event: str, after: datetime) -> list[datetime]:
    stamps = [datetime.fromisoformat(str(e["timestamp"])) for e in worker.events(event)]
    return [s for s in stamps if s >= after]


async def test_worker_listener_and_api_come_back_by_themselves_after_postgres_is_stopped_hard(
    cluster: Cluster,
    own_pool: Pool,
    tmp_path: Path,
    aiohttp_client: Callable[..., Awaitable[ApiClient]],
) -> None:
    api = await aiohttp_client(create_app(own_pool, Settings(secret_key=generate_key())))
    await create_workflow(
        own_pool,
        {
            "name": "outage",
            "start": "wait",
            "nodes": [
                {"id": "wait", "type": "delay", "duration": "2s", "next": "done"},
                {"id": "done", "type": "action", "action": "noop"},
            ],
        },
    )
    await create_workflow(
        own_pool, {"name": "quick", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
    )
    worker = spawn_worker_process(
        "worker", tmp_path / "worker.log", {"DATABASE_URL": cluster.url, "CONVEYOR_POLL_INTERVAL": "30"}
    )
    try:
        await poll_until(lambda: worker.events("wake_channel_listening"), "the worker to listen", 30)
        ids = [(await start_execution(own_pool, "outage", {"n": n}))[0].id for n in range(_DELAYED)]

        async def all_delayed() -> bool:
            return await _states(cluster.url, ids) == {"delayed": _DELAYED}

        await poll_until(all_delayed, "every execution to wait in its delay", 20)

        # Down for longer than the delays have to run: they all fall due while the database is away.
        stopped_at = datetime.now(UTC)
        cluster.pg_ctl("-m", "immediate", "stop")
        down_at = time.monotonic()
        answers: list[tuple[int, str | None]] = []
        while time.monotonic() - down_at < _OUTAGE_SECONDS:
            for path in ("/executions", "/workflows", f"/executions/{ids[0]}"):
                response = await api.get(path)
                answers.append((response.status, response.headers.get("Retry-After")))
        cluster.pg_ctl("start")
        back_at = datetime.now(UTC)
        back_clock = time.monotonic()

        async def every_one_completed() -> bool:
            return await _states(cluster.url, ids) == {"completed": _DELAYED}

        await poll_until(every_one_completed, "the delays that fell due to fire after the return", 10)
        fired_after = time.monotonic() - back_clock
        # pg_ctl returns a moment after the server accepts connections: the worker may be back before it does.
        await poll_until(
            lambda: _logged_after(worker, "wake_channel_reconnected", stopped_at), "the wake channel to return", 10
        )
        reconnected = min(_logged_after(worker, "wake_channel_reconnected", stopped_at))
        listening_after = (reconnected - back_at).total_seconds()

        # The worker is idle now (poll interval 30 s): only a NOTIFY can start this one at once.
        started = time.monotonic()
        quick, _ = await start_execution(own_pool, "quick", {})
        await poll_until(lambda: _states(cluster.url, [quick.id]), "the quick execution to be stored", 5)

        async def quick_completed() -> bool:
            return await _states(cluster.url, [quick.id]) == {"completed": 1}

        await poll_until(quick_completed, "a NOTIFY wake-up after the return", 5)
        notify_seconds = time.monotonic() - started
        api_back = (await api.get("/executions")).status

        # And once more as one command, the outage as short as PostgreSQL's crash recovery makes it.
        restarted_at = datetime.now(UTC)
        cluster.restart_immediately()
        after_restart: list[uuid.UUID] = []
        for _ in range(5):
            started_id = await poll_until(lambda: _start(own_pool), "a start to be accepted", 10)
            assert started_id is not None
            after_restart.append(started_id)

        async def after_restart_completed() -> bool:
            return await _states(cluster.url, after_restart) == {"completed": 5}

        await poll_until(after_restart_completed, "executions started after `pg_ctl restart` to run", 10)
        await poll_until(
            lambda: _logged_after(worker, "wake_channel_reconnected", restarted_at), "the wake channel again", 10
        )
        report = await check_history(own_pool)
    finally:
        await stop_worker_process(worker)

    statuses = sorted({status for status, _ in answers})
    print(
        f"postgres restart: {len(answers)} API answers while away, statuses {statuses};"
        f" {_DELAYED} delays fired {fired_after:.2f} s after the return; wake channel back after"
        f" {listening_after:.2f} s; a NOTIFY wake-up then took {notify_seconds:.2f} s; worker exit {worker.returncode}"
    )
    assert answers
    assert statuses == [503], f"the API answered {statuses} while the database was away"
    assert all(retry is not None and retry.isdigit() for _, retry in answers)
    assert fired_after <= 1.0, "a delay that fell due during the outage fired late"
    assert listening_after <= 10
    assert notify_seconds < 1.0
    assert api_back == 200
    assert worker.returncode == 0, "the worker had to be restarted (or died) to come back"
    assert report.ok, report.summary()


_RESTARTS = 3
_PER_RESTART = 15


def _reconnected(worker: WorkerProcess, times: int) -> bool:
    """Whether the worker has logged its LISTEN connection back `times` times."""
    return len(worker.events("wake_channel_reconnected")) >= times


async def _start_mixed(pool: Pool, n: int) -> uuid.UUID | None:
    """Start one chaos execution; None on a 503 (a pooled connection the restart cut), to try again."""
    try:
        execution, _ = await start_execution(pool, "chaos", {"email": f"user{n}@example.com", "shared": n % 2 == 0})
    except DatabaseUnavailableError:
        return None
    return execution.id


async def test_restarts_under_load_lose_nothing_and_the_workers_come_back_without_a_restart_of_their_own(
    cluster: Cluster, own_pool: Pool, tmp_path: Path, webhook_peer: WebhookPeer
) -> None:
    child, parent = definitions(webhook_peer)
    await create_workflow(own_pool, child)
    await create_workflow(own_pool, parent)
    workers = [
        spawn_worker_process(f"worker-{n}", tmp_path / f"worker-{n}.log", {"DATABASE_URL": cluster.url})
        for n in range(2)
    ]
    try:
        for worker in workers:
            await poll_until(functools.partial(worker.events, "wake_channel_listening"), f"{worker.name} to listen", 30)
        ids: list[uuid.UUID] = []
        listen_back: list[float] = []
        for restart in range(_RESTARTS + 1):
            for _ in range(_PER_RESTART):
                started = await poll_until(functools.partial(_start_mixed, own_pool, len(ids)), "a start", 10)
                assert started is not None
                ids.append(started)
            if restart < _RESTARTS:  # each restart cuts into executions mid-way through their steps
                await asyncio.to_thread(cluster.restart_immediately)
                back = time.monotonic()
                for worker in workers:
                    await poll_until(functools.partial(_reconnected, worker, restart + 1), "LISTEN back", 10)
                listen_back.append(time.monotonic() - back)

        async def all_completed() -> bool:
            return await _states(cluster.url, ids) == {"completed": len(ids)}

        await poll_until(all_completed, "every execution to complete after the restarts", 60)
        report = await check_history(own_pool)
        alive = [w.returncode for w in workers]
    finally:
        for worker in workers:
            await stop_worker_process(worker)
    doubled, same_key_again = side_effects(webhook_peer)
    print(
        f"postgres restarts under load: {_RESTARTS} restarts, {len(ids)} executions completed;"
        f" workers alive throughout {alive}, both LISTEN connections back after {[round(x, 2) for x in listen_back]} s;"
        f" webhook requests {len(webhook_peer.received)}, under two keys {doubled}, same key again {same_key_again};"
        f" checker {report.summary()}"
    )
    assert alive == [None, None], "a worker died and would have needed a restart"
    assert [w.returncode for w in workers] == [0, 0]
    assert doubled == 0
    assert report.ok, report.summary()
