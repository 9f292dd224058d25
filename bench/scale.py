"""Scenario 5: 1,000,000 delayed executions cost disk, not RAM, and do not slow the poller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench import processes
from bench.harness import Bench, median
from bench.seed import delay_then_noop, delayed_many, workflow
from conveyor.engine.claim import claim_due
from conveyor.engine.store.executions import lock_due, seconds_until_next_due

TIME_LIMIT_SECONDS = 240.0
SMALL = 1_000
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "50", "CONVEYOR_BATCH_SIZE": "100"}
_RUNS = 50
_BATCH = 100
_IDLE_SECONDS = 3.0
_MB = 1024 * 1024


async def _median_ms(step: Callable[[], Awaitable[object]], runs: int = _RUNS) -> float:
    """Median wall time of `step` over `runs` runs, after one unmeasured run."""
    await step()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        await step()
        times.append((time.perf_counter() - t0) * 1000)
    return median(times)


async def _poller(bench: Bench, label: str) -> None:
    """Time one idle poller batch (claim_due, then seconds_until_next_due) and its two queries alone."""
    pool = bench.pool

    async def batch() -> None:
        claimed = await claim_due(pool, "bench-poller", _BATCH, 30.0)
        assert not claimed, "nothing should be due"
        async with pool.acquire() as conn:
            await seconds_until_next_due(conn)

    async def lock() -> None:
        async with pool.acquire() as conn, conn.transaction():
            await lock_due(conn, _BATCH)

    async def next_due() -> None:
        async with pool.acquire() as conn:
            await seconds_until_next_due(conn)

    bench.record(f"scale.{label}.batch", await _median_ms(batch), "ms")
    bench.record(f"scale.{label}.lock_due", await _median_ms(lock), "ms")
    bench.record(f"scale.{label}.next_due", await _median_ms(next_due), "ms")


async def _worker_rss(bench: Bench, label: str) -> None:
    """Spawn a worker, let it poll, read its resident memory."""
    async with processes.spawn(bench, f"worker-{label}", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await asyncio.sleep(_IDLE_SECONDS)
        processes.check_alive(proc)
        bench.record(f"scale.{label}.worker_rss", processes.rss_mb(proc.pid), "MiB")
        bench.note(f"{label}_worker_peak_rss_mib", processes.peak_rss_mb(proc.pid))


async def _sizes(bench: Bench, label: str) -> None:
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow("""
            SELECT pg_total_relation_size('executions') AS total, pg_indexes_size('executions') AS indexes,
                   pg_relation_size('executions_due_idx') AS due_idx""")
    bench.record(f"scale.{label}.table_total", row["total"] / _MB, "MiB")
    bench.record(f"scale.{label}.indexes", row["indexes"] / _MB, "MiB")
    bench.note(f"{label}_due_index_mib", row["due_idx"] / _MB)


async def run(bench: Bench) -> None:
    """Measure with 1,000 delayed rows, grow to 1,000,000 (100,000 with --quick), measure again."""
    large = bench.size(1_000_000, 100_000)
    workflow_id = await workflow(bench.pool, delay_then_noop("bench-scale", "30d"))
    await delayed_many(bench.pool, workflow_id, "done", 1, SMALL)
    await _poller(bench, "small")
    await _worker_rss(bench, "small")
    t0 = time.perf_counter()
    await delayed_many(bench.pool, workflow_id, "done", SMALL + 1, large)
    bench.note("insert_seconds", time.perf_counter() - t0)
    bench.note("rows", {"small": SMALL, "large": large})
    bench.record("scale.large.delayed", large, "rows")
    await _poller(bench, "large")
    await _worker_rss(bench, "large")
    await _sizes(bench, "large")
    small_batch, large_batch = bench.value("scale.small.batch"), bench.value("scale.large.batch")
    if small_batch and large_batch:
        bench.record("scale.batch_large_vs_small", large_batch / small_batch, "ratio")
