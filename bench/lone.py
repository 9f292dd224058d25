"""Scenario: a lone execution on an idle worker, step to step: what group commit must not slow down."""

from __future__ import annotations

from bench import processes
from bench.harness import Bench, percentile
from bench.seed import noop_chain, start_many, workflow

TIME_LIMIT_SECONDS = 60.0
STEPS = 10
_FINISH_SECONDS = 10.0

# From one step's commit to the next one's, by the database's clock: the worker's turn-around for one step.
_GAPS = """
SELECT extract(epoch FROM finished_at - lag(finished_at) OVER (PARTITION BY execution_id ORDER BY id))::float8
       * 1000 AS gap_ms
FROM execution_steps
"""


async def run(bench: Bench) -> None:
    """Run executions of ten noop steps one at a time on one worker with default settings."""
    runs = bench.size(50, 10)
    workflow_id = await workflow(bench.pool, noop_chain("bench-lone", STEPS))
    async with processes.spawn(bench, "worker", "worker") as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        for done in range(1, runs + 1):
            await start_many(bench.pool, workflow_id, "s1", 1)
            await processes.wait_until_finished(bench.pool, done, [proc], _FINISH_SECONDS, interval_seconds=0.01)
    async with bench.pool.acquire() as conn:
        gaps = [r["gap_ms"] for r in await conn.fetch(_GAPS) if r["gap_ms"] is not None]
    if len(gaps) != runs * (STEPS - 1):
        raise RuntimeError(f"expected {runs * (STEPS - 1)} step-to-step gaps, found {len(gaps)}")
    bench.note("executions", runs)
    bench.note("steps_each", STEPS)
    bench.record("lone.step_to_step_p50", percentile(gaps, 50), "ms")
    bench.record("lone.step_to_step_p99", percentile(gaps, 99), "ms")
