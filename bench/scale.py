"""Scenario 5: 1,000,000 delayed executions cost disk, not RAM, and do not slow the poller."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bench import processes
from bench.harness import Bench, median
from bench.seed import delay_then_noop, delayed_many, workflow
from conveyor.engine.claim import claim_due
from conveyor.store import Conn
from conveyor.store.claims import _CLAIM, _NEXT_DUE, claim_args, claim_uncapped, seconds_until_next_due

TIME_LIMIT_SECONDS = 180.0
SMALL = 1_000
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "50", "CONVEYOR_BATCH_SIZE": "100"}
# Sub-millisecond round trips on a shared VM drift by 2x for a second or so at a time: time the steps in
# interleaved rounds, report each step's best round median, and compare batches relative to a bare round trip.
_BATCH = 100
_ROUNDS = 20
_RUNS = 25
_WARMUP_RUNS = 20
_IDLE_SECONDS = 3.0
_MB = 1024 * 1024


async def _round_medians_ms(steps: dict[str, Callable[[], Awaitable[object]]]) -> dict[str, list[float]]:
    """For each step, the medians (ms) of _ROUNDS rounds of _RUNS timed runs; the rounds interleave the steps."""
    for step in steps.values():
        for _ in range(_WARMUP_RUNS):
            await step()
    medians: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(_ROUNDS):
        for name, step in steps.items():
            times = []
            for _ in range(_RUNS):
                t0 = time.perf_counter()
                await step()
                times.append((time.perf_counter() - t0) * 1000)
            medians[name].append(median(times))
    return medians


@contextlib.asynccontextmanager
async def _rolled_back(conn: Conn) -> AsyncIterator[None]:
    """A transaction that is rolled back: the claim statement writes when anything is due."""
    tr = conn.transaction()
    await tr.start()
    try:
        yield
    finally:
        await tr.rollback()


async def _explain(bench: Bench, label: str) -> None:
    """Server-side cost of the engine's own two poller statements: buffers touched and execution time."""
    plans = {}
    async with bench.pool.acquire() as conn, _rolled_back(conn):
        queries: tuple[tuple[str, str, tuple[object, ...]], ...] = (
            ("claim", _CLAIM.sql, tuple(claim_args("bench-poller", _BATCH, 30.0, [], []))),
            ("next_due", _NEXT_DUE.sql, tuple(_NEXT_DUE.args(in_flight=[], provides=[]))),
        )
        for name, sql, args in queries:
            plan = (await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args))[0]
            plans[name] = {
                "buffers": plan["Plan"]["Shared Hit Blocks"] + plan["Plan"]["Shared Read Blocks"],
                "execution_ms": plan["Execution Time"],
                "planning_ms": plan["Planning Time"],
            }
    bench.note(f"{label}_explain", plans)


async def _poller(bench: Bench, label: str) -> None:
    """Time one idle poller batch (claim_due, then seconds_until_next_due) and its two queries alone."""
    pool = bench.pool

    async def batch() -> None:
        claimed = await claim_due(pool, "bench-poller", _BATCH, 30.0)
        assert not claimed, "nothing should be due"
        async with pool.acquire() as conn:
            await seconds_until_next_due(conn)

    async def claim() -> None:
        async with pool.acquire() as conn, _rolled_back(conn):
            await claim_uncapped(conn, "bench-poller", _BATCH, 30.0, (), ())

    async def next_due() -> None:
        async with pool.acquire() as conn:
            await seconds_until_next_due(conn)

    async def round_trip() -> None:
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    rounds = await _round_medians_ms({"batch": batch, "claim": claim, "next_due": next_due, "round_trip": round_trip})
    for name, medians in rounds.items():
        bench.record(f"scale.{label}.{name}", min(medians), "ms")
    # The batch in units of a bare SELECT 1 measured in the same round: immune to the host's slow phases.
    relative = [b / r for b, r in zip(rounds["batch"], rounds["round_trip"], strict=True)]
    bench.record(f"scale.{label}.batch_relative", median(relative), "round_trips")
    await _explain(bench, label)


async def _worker_rss(bench: Bench, label: str) -> None:
    """Spawn a worker, let it poll, read its resident memory."""
    async with processes.spawn(bench, f"worker-{label}", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await asyncio.sleep(_IDLE_SECONDS)
        processes.check_alive(proc)
        bench.record(f"scale.{label}.worker_rss", processes.rss_mb(proc.pid), "MiB")
        bench.note(f"{label}_worker_peak_rss_mib", processes.peak_rss_mb(proc.pid))


async def _sizes(bench: Bench, label: str) -> None:
    """What the executions table and its indexes take on disk."""
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow("""
            SELECT pg_total_relation_size('executions') AS total, pg_indexes_size('executions') AS indexes,
                   pg_relation_size('executions_due_idx') AS due_idx""")
    assert row is not None
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
    small_batch, large_batch = bench.value("scale.small.batch_relative"), bench.value("scale.large.batch_relative")
    if small_batch and large_batch:
        bench.record("scale.batch_large_vs_small", large_batch / small_batch, "ratio")
