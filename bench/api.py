"""Scenario 4: POST /workflows/{id}/executions from a bounded-concurrency client on loopback."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bench import processes
from bench.harness import Bench, percentile
from bench.seed import noop_chain, workflow

TIME_LIMIT_SECONDS = 75.0
CONCURRENCY = 32
_WARMUP_REQUESTS = 50
_LOAD_SECONDS = 30.0


async def _load(session: aiohttp.ClientSession, url: str, total: int, seconds: float) -> tuple[list[float], int, float]:
    """Send up to `total` POSTs (or for `seconds`), CONCURRENCY at a time; latencies (ms), failures, elapsed."""
    latencies: list[float] = []
    failures = 0
    sent = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def client() -> None:
        nonlocal sent, failures
        while sent < total and time.perf_counter() < deadline:
            sent += 1
            t0 = time.perf_counter()
            try:
                async with session.post(url, json={"input": {"n": sent}}) as response:
                    await response.read()
                    ok = response.status == 201
            except aiohttp.ClientError:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                failures += 1

    await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
    return latencies, failures, time.perf_counter() - started


async def run(bench: Bench) -> None:
    """Spawn `conveyor web`, warm it up, then measure request rate and latency."""
    total = bench.size(3_000, 300)
    workflow_id = await workflow(bench.pool, noop_chain("bench-api", 3))
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    async with processes.spawn(bench, "web", "web", "--host", "127.0.0.1", "--port", str(port)) as proc:
        await processes.wait_for_http(proc, f"{base}/health/live")
        url = f"{base}/workflows/{workflow_id}/executions"
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector) as session:
            await _load(session, url, _WARMUP_REQUESTS, _LOAD_SECONDS)
            cpu_before = processes.cpu_seconds(proc.pid)
            latencies, failures, elapsed = await _load(session, url, total, _LOAD_SECONDS)
            cpu = processes.cpu_seconds(proc.pid) - cpu_before
    bench.note("requests", len(latencies) + failures)
    bench.note("failures", failures)
    bench.note("concurrency", CONCURRENCY)
    bench.note("elapsed_seconds", elapsed)
    bench.note("server_cpu_seconds", cpu)
    bench.record("api.requests_per_s", len(latencies) / elapsed, "req/s")
    bench.record("api.latency_p50", percentile(latencies, 50), "ms")
    bench.record("api.latency_p99", percentile(latencies, 99), "ms")
    if failures:
        raise RuntimeError(f"{failures} of {len(latencies) + failures} requests failed")
