"""Scenario `retention` (opt-in): a throughput drain with and without the retention stage deleting old rows.

1,000,000 finished executions (with their history and step rows) are seeded 31-60 days old. One worker drains
3-step noop executions with retention off, then another with the default 30 days, fed until the stage has
deleted every seeded execution; then the claim statement is timed on the churned table.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from bench import processes, tablestats
from bench.harness import Bench, checkpoint, percentile
from bench.seed import noop_chain, start_many, workflow
from conveyor.store import Pool
from conveyor.store.claims import DUE, claim_uncapped
from testkit.poll import poll_until

TIME_LIMIT_SECONDS = 1800.0
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "50", "CONVEYOR_BATCH_SIZE": "100"}
_SEED_CHUNK = 100_000
_FEED = 2_000  # executions started whenever fewer than this are unfinished
_FEED_INTERVAL_SECONDS = 0.25
# Whether a seeded execution is left is read less often: its index scan steps over every deleted row's entry.
_SEEDED_CHECK_SECONDS = 2.0
_SAMPLE_INTERVAL_SECONDS = 0.05
_DELETE_TIMEOUT_SECONDS = 1200.0
_DRAIN_TIMEOUT_SECONDS = 120.0
_CLAIM_RUNS = 1_000
_CLAIM_BATCH = 100

# A 3-step noop execution as it ends: 7 history rows (claim, then two per step) and 3 step rows.
_SEED_EXECUTIONS = """
INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, context,
                        output, version, created_at, started_at, step_started_at, finished_at, updated_at)
SELECT md5(g::text)::uuid, $1, 1, 'completed', 's3', 4, 1, jsonb_build_object('n', g), '{}', '{}', 7,
       at - interval '1 second', at - interval '1 second', at, at, at
FROM generate_series($2::int, $3::int) AS g,
     LATERAL (SELECT now() - interval '31 days' - g * interval '2.5 seconds' AS at) AS t
"""
_SEED_HISTORY = """
INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail, at)
SELECT md5(g::text)::uuid, h.source, h.target, h.event, 's' || h.step, 1, NULL,
       now() - interval '31 days' - g * interval '2.5 seconds'
FROM generate_series($1::int, $2::int) AS g,
     (VALUES (1, 'idle', 'running', 'claim', 1),
             (2, 'running', 'stepCompleted', 'complete', 1), (3, 'stepCompleted', 'running', 'advance', 1),
             (4, 'running', 'stepCompleted', 'complete', 2), (5, 'stepCompleted', 'running', 'advance', 2),
             (6, 'running', 'stepCompleted', 'complete', 3), (7, 'stepCompleted', 'completed', 'finish', 3))
         AS h(n, source, target, event, step)
ORDER BY g, h.n
"""
_SEED_STEPS = """
INSERT INTO execution_steps (execution_id, node, visit, attempt, status, input, output, started_at, finished_at)
SELECT md5(g::text)::uuid, 's' || k, k, 1, 'completed', jsonb_build_object('i', k), '{}',
       now() - interval '31 days' - g * interval '2.5 seconds', now() - interval '31 days' - g * interval '2.5 seconds'
FROM generate_series($1::int, $2::int) AS g, generate_series(1, 3) AS k
ORDER BY g, k
"""
_ROW_COUNTS = """
SELECT (SELECT count(*) FROM executions WHERE workflow_id = $1) AS executions,
       (SELECT count(*) FROM execution_history h JOIN executions e ON e.id = h.execution_id
        WHERE e.workflow_id = $1) AS history,
       (SELECT count(*) FROM execution_steps s JOIN executions e ON e.id = s.execution_id
        WHERE e.workflow_id = $1) AS steps
"""
# Transitions a drain committed, overall and inside a window (the retention stage's deleting).
_DRAIN = """
SELECT count(*) AS transitions,
       count(*) FILTER (WHERE h.at <= $2) AS in_window,
       extract(epoch FROM (SELECT max(finished_at) - min(created_at) FROM executions WHERE workflow_id = $1))::float8
           AS wall,
       extract(epoch FROM $2 - (SELECT min(created_at) FROM executions WHERE workflow_id = $1))::float8 AS window
FROM execution_history h JOIN executions e ON e.id = h.execution_id WHERE e.workflow_id = $1
"""
# Sampled: the longest any backend has waited on a lock, and the retention statement's age.
_SAMPLE = """
SELECT coalesce(max(clock_timestamp() - query_start) FILTER (WHERE wait_event_type = 'Lock'), '0')
           AS lock_wait,
       coalesce(max(clock_timestamp() - query_start)
                FILTER (WHERE state = 'active' AND query LIKE '%WITH RECURSIVE overrides%'), '0') AS retention
FROM pg_stat_activity WHERE pid <> pg_backend_pid()
"""


@dataclass(slots=True)
class Peaks:
    """The longest lock wait and retention statement seen by the sampler, in ms."""

    lock_wait_ms: float = 0.0
    retention_ms: float = 0.0


async def seed(pool: Pool, workflow_id: uuid.UUID, count: int) -> None:
    """Insert `count` finished executions with their rows, a chunk per statement, then vacuum and analyze."""
    async with pool.acquire() as conn:
        for first in range(1, count + 1, _SEED_CHUNK):
            last = min(first + _SEED_CHUNK - 1, count)
            await conn.execute(_SEED_EXECUTIONS, workflow_id, first, last)
            await conn.execute(_SEED_HISTORY, first, last)
            await conn.execute(_SEED_STEPS, first, last)
        await conn.execute("VACUUM ANALYZE executions, execution_history, execution_steps")
    await checkpoint(pool)


@contextlib.asynccontextmanager
async def sampled(pool: Pool) -> AsyncIterator[Peaks]:
    """Sample pg_stat_activity for the block; the peaks it saw."""
    peaks = Peaks()

    async def sample() -> None:
        async with pool.acquire() as conn:
            while True:
                row = await conn.fetchrow(_SAMPLE)
                assert row is not None
                peaks.lock_wait_ms = max(peaks.lock_wait_ms, row["lock_wait"].total_seconds() * 1000)
                peaks.retention_ms = max(peaks.retention_ms, row["retention"].total_seconds() * 1000)
                await asyncio.sleep(_SAMPLE_INTERVAL_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield peaks
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _unfinished(pool: Pool) -> int:
    # Through the due index, which holds only unfinished rows: a count that stays cheap as finished rows pile up.
    async with pool.acquire() as conn:
        return int(await conn.fetchval(f"SELECT count(*) FROM executions WHERE {DUE}"))


async def _seeded_left(pool: Pool, seeded_id: uuid.UUID) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM executions WHERE workflow_id = $1)", seeded_id))


@dataclass(frozen=True, slots=True)
class Fed:
    """What a drain was fed: executions started, and when the last seeded execution was seen gone."""

    started: int
    deleted_after_seconds: float | None
    deleted_at: datetime  # database time then; the feed's start without retention


async def _feed(
    pool: Pool, proc: processes.Process, workflow_id: uuid.UUID, minimum: int, seeded_id: uuid.UUID | None
) -> Fed:
    """Start executions whenever fewer than _FEED are unfinished, until `minimum` are started and, when
    `seeded_id` is given, no seeded execution is left."""
    t0 = checked = time.monotonic()
    async with pool.acquire() as conn:
        deleted_at = await conn.fetchval("SELECT now()")
    started, deleted_after, deleting = 0, None, seeded_id is not None
    while started < minimum or deleting:
        processes.check_alive(proc)
        if time.monotonic() - t0 > _DELETE_TIMEOUT_SECONDS:
            raise TimeoutError(f"retention left seeded executions after {_DELETE_TIMEOUT_SECONDS:.0f} s")
        if await _unfinished(pool) < _FEED:
            await start_many(pool, workflow_id, "s1", _FEED)
            started += _FEED
        if seeded_id is not None and deleting and time.monotonic() - checked >= _SEEDED_CHECK_SECONDS:
            checked = time.monotonic()
            if not await _seeded_left(pool, seeded_id):
                deleting, deleted_after = False, checked - t0
                async with pool.acquire() as conn:
                    deleted_at = await conn.fetchval("SELECT now()")
        await asyncio.sleep(_FEED_INTERVAL_SECONDS)
    return Fed(started, deleted_after, deleted_at)


async def drain(bench: Bench, label: str, retention: str, minimum: int, seeded: tuple[uuid.UUID, int]) -> None:
    """One worker with `retention`, fed at least `minimum` executions, and (retention on) until no seeded
    execution is left; record its transitions/s, overall and while the stage was deleting."""
    pool = bench.pool
    seeded_id, seeded_rows = seeded
    workflow_id = await workflow(pool, noop_chain(f"bench-retention-{label}", 3))
    env = {**WORKER_ENV, "CONVEYOR_RETENTION": retention}
    async with processes.spawn(bench, f"worker-{label}", "worker", env=env) as proc, sampled(pool) as peaks:
        await processes.wait_for_workers(pool, [proc])
        fed = await _feed(pool, proc, workflow_id, minimum, seeded_id if retention != "off" else None)

        async def drained() -> bool:
            processes.check_alive(proc)
            return await _unfinished(pool) == 0

        await poll_until(drained, f"the {label} drain to finish", _DRAIN_TIMEOUT_SECONDS, 0.25)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(_DRAIN, workflow_id, fed.deleted_at)
    assert row is not None
    bench.note(label, {"executions": fed.started, "transitions": row["transitions"], "wall_seconds": row["wall"]})
    bench.record(f"retention.{label}.transitions_per_s", row["transitions"] / row["wall"], "transitions/s")
    if fed.deleted_after_seconds is None:
        return
    seconds = fed.deleted_after_seconds
    bench.record(f"retention.{label}.delete_seconds", seconds, "s")
    bench.record(
        f"retention.{label}.deleted_executions_per_s", (bench.value("retention.seeded") or 0) / seconds, "exec/s"
    )
    bench.record(f"retention.{label}.deleted_rows_per_s", seeded_rows / seconds, "rows/s")
    bench.record(f"retention.{label}.transitions_per_s_deleting", row["in_window"] / row["window"], "transitions/s")
    bench.record(f"retention.{label}.lock_wait_max", peaks.lock_wait_ms, "ms")
    bench.record(f"retention.{label}.batch_max", peaks.retention_ms, "ms")


async def claim_times(pool: Pool) -> list[float]:
    """The claim statement's times (ms) over _CLAIM_RUNS runs, each in a transaction rolled back."""
    times = []
    async with pool.acquire() as conn:
        for _ in range(_CLAIM_RUNS):
            tr = conn.transaction()
            await tr.start()
            t = time.perf_counter()
            await claim_uncapped(conn, "bench-claimer", _CLAIM_BATCH, 30.0, (), ())
            times.append((time.perf_counter() - t) * 1000)
            await tr.rollback()
    return times


async def _claim(bench: Bench, label: str) -> None:
    times = await claim_times(bench.pool)
    bench.record(f"retention.claim_p50_{label}", percentile(times, 50), "ms")
    bench.record(f"retention.claim_p99_{label}", percentile(times, 99), "ms")


async def run(bench: Bench) -> None:
    """Seed, drain without retention, drain with it, then time the claim and count dead tuples."""
    count = bench.size(1_000_000, 5_000)
    seeded_id = await workflow(bench.pool, noop_chain("bench-retention-seeded", 3))
    t = time.perf_counter()
    await seed(bench.pool, seeded_id, count)
    bench.note("seed_seconds", time.perf_counter() - t)
    async with bench.pool.acquire() as conn:
        rows = await conn.fetchrow(_ROW_COUNTS, seeded_id)
    assert rows is not None
    bench.note("seeded_rows", dict(rows))
    bench.record("retention.seeded", count, "executions")
    seeded = (seeded_id, sum(rows.values()))
    await _claim(bench, "before")
    await drain(bench, "off", "off", bench.size(20_000, 500), seeded)
    await drain(bench, "on", "30d", bench.size(125_000, 500), seeded)
    await _claim(bench, "after")
    stats = await tablestats.snapshot(bench.pool)
    bench.record("retention.executions_dead_tuples", stats.dead_tuples, "rows")
