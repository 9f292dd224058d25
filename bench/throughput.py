"""Scenario 2: drain a backlog of 3-step noop executions with one worker process, then with two."""

from __future__ import annotations

import contextlib
import time

from bench import processes, tablestats
from bench.harness import Bench, host_busy_seconds, server_cpu_seconds, truncate
from bench.seed import noop_chain, start_many, workflow

TIME_LIMIT_SECONDS = 180.0
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "200", "CONVEYOR_BATCH_SIZE": "200"}
_DRAIN_TIMEOUT_SECONDS = 80.0

_TOTALS = """
SELECT count(*) FILTER (WHERE state = 'completed') AS completed,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       extract(epoch FROM max(finished_at) - min(created_at))::float8 AS wall,
       (SELECT count(*) FROM execution_history) AS transitions,
       (SELECT count(*) FROM execution_steps) AS steps
FROM executions
"""


async def drain(bench: Bench, workers: int, total: int) -> None:
    """Start `workers` worker processes, give them `total` executions at once, record the rates."""
    await truncate(bench.pool)
    workflow_id = await workflow(bench.pool, noop_chain("bench-throughput", 3))
    async with contextlib.AsyncExitStack() as stack:
        procs = [
            await stack.enter_async_context(processes.spawn(bench, f"worker{i}", "worker", env=WORKER_ENV))
            for i in range(workers)
        ]
        await processes.wait_for_workers(bench.pool, procs)
        cpu_before = [processes.cpu_seconds(p.pid) for p in procs]
        server_before = await server_cpu_seconds(bench.pool)
        host_before, window_start = host_busy_seconds(), time.monotonic()
        stats_before = await tablestats.snapshot(bench.pool)
        await start_many(bench.pool, workflow_id, "s1", total)
        await processes.wait_until_finished(bench.pool, total, procs, _DRAIN_TIMEOUT_SECONDS)
        cpu = sum(processes.cpu_seconds(p.pid) - before for p, before in zip(procs, cpu_before, strict=True))
        host = host_busy_seconds() - host_before
        server_after = await server_cpu_seconds(bench.pool)
        window = time.monotonic() - window_start  # CPU is sampled over this, a little longer than `wall`
    storage = tablestats.delta(stats_before, await tablestats.settled(bench.pool))
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow(_TOTALS)
    assert row is not None
    wall = row["wall"]
    prefix = f"throughput.{workers}w"
    bench.note(
        f"{workers}w",
        {
            "executions": total,
            "completed": row["completed"],
            "failed": row["failed"],
            "transitions": row["transitions"],
            "steps": row["steps"],
            "wall_seconds": wall,
            "worker_cpu_seconds": cpu,
            "host_busy_seconds": host,
            "worker_env": WORKER_ENV,
            "wal_bytes": storage.wal_bytes,
            "executions_updates": storage.updates,
            "executions_hot_updates": storage.hot_updates,
        },
    )
    transitions_per_s = row["transitions"] / wall
    bench.record(f"{prefix}.executions_per_s", row["completed"] / wall, "exec/s")
    bench.record(f"{prefix}.transitions_per_s", transitions_per_s, "transitions/s")
    bench.record(f"{prefix}.steps_per_s", row["steps"] / wall, "steps/s")
    bench.record(f"{prefix}.worker_cpu", cpu / window, "cores")
    bench.record(f"{prefix}.host_cpu", host / window, "cores")
    # Where the cores go, per step: the workers' Python and PostgreSQL's processes.
    bench.record(f"{prefix}.worker_cpu_per_step", cpu / row["steps"] * 1000, "ms")
    if server_before is not None and server_after is not None:
        bench.record(f"{prefix}.postgres_cpu_per_step", (server_after - server_before) / row["steps"] * 1000, "ms")
    # The WAL of the whole window (the executions' insert, every step, autovacuum) over the steps run.
    bench.record(f"{prefix}.wal_bytes_per_step", storage.wal_bytes / row["steps"], "B")
    bench.record(f"{prefix}.hot_ratio", storage.hot_ratio, "ratio")
    bench.record(f"{prefix}.dead_tuples", storage.dead_tuples, "rows")
    limit = bench.value("limit.tps")
    if limit:
        bench.record(f"{prefix}.transitions_vs_limit", transitions_per_s / limit, "ratio")
        bench.record(f"{prefix}.steps_vs_limit", row["steps"] / wall / limit, "ratio")


async def run(bench: Bench) -> None:
    """One worker, then two."""
    total = bench.size(5_000, 500)
    for workers in (1, 2):
        await drain(bench, workers, total)
