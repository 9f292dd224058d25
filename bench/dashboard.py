"""Scenario: the dashboard's reads against 100,000 executions: its first page, an input search, the charts."""

from __future__ import annotations

import time

import aiohttp

from bench import processes
from bench.harness import Bench, percentile
from bench.seed import delayed_many, noop_chain, workflow

TIME_LIMIT_SECONDS = 180.0
_ROUNDS = 60
_WARMUP = 5


async def _timed(session: aiohttp.ClientSession, url: str, rounds: int) -> list[float]:
    """Each GET's time to the whole answer, in ms, one at a time, as a dashboard tab asks."""
    for _ in range(_WARMUP):
        async with session.get(url) as response:
            await response.read()
    took = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        async with session.get(url) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {url}: {response.status}")
        took.append((time.perf_counter() - t0) * 1000)
    return took


async def run(bench: Bench) -> None:
    """Seed the executions in one statement, spawn `conveyor web`, and time the dashboard's reads."""
    count = bench.size(100_000, 10_000)
    workflow_id = await workflow(bench.pool, noop_chain("bench-dashboard", 2))
    await delayed_many(bench.pool, workflow_id, "s2", 1, count)
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    reads = {
        "first_page": "/executions?limit=50",
        "workflow_page": f"/executions?limit=50&workflow={workflow_id}",
        "input_search": f"/executions?limit=50&input=n={count // 2}",
        "charts_hour": "/statistics/minutes?minutes=60",
    }
    async with processes.spawn(bench, "web", "web", "--host", "127.0.0.1", "--port", str(port)) as proc:
        await processes.wait_for_http(proc, f"{base}/health/live")
        async with aiohttp.ClientSession() as session:
            for name, path in reads.items():
                took = await _timed(session, base + path, bench.size(_ROUNDS, 20))
                bench.record(f"dashboard.{name}_p50", percentile(took, 50), "ms")
                bench.record(f"dashboard.{name}_p99", percentile(took, 99), "ms")
    bench.note("executions", count)
