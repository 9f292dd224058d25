"""Scenario 3: how late 1 s delays fire, with the default 30 s poll interval as the only fallback."""

from __future__ import annotations

from bench import processes
from bench.harness import Bench, percentile
from bench.seed import delay_then_noop, start_many, workflow

TIME_LIMIT_SECONDS = 90.0
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "200", "CONVEYOR_BATCH_SIZE": "200"}
_DRAIN_TIMEOUT_SECONDS = 60.0

# Due time = the sleep transition's commit time + its wake_in_seconds (both from the same now() as wake_at);
# lateness = when the wake transition (the claim) committed minus that.
_LATENESS = """
SELECT extract(epoch FROM w.at - (s.at + make_interval(secs => (s.detail->>'wake_in_seconds')::float8)))
       ::float8 * 1000 AS late_ms
FROM execution_history s
JOIN execution_history w ON w.execution_id = s.execution_id AND w.event = 'wake'
WHERE s.event = 'sleep'
"""
# One claim is one transaction, and every row of a transaction has the same now(): its wakes share `at`.
_WAKE_CLAIMS = "SELECT count(DISTINCT at) FROM execution_history WHERE event = 'wake'"


async def run(bench: Bench) -> None:
    """Start N executions of delay(1s) → noop on one worker; measure wake lateness from history."""
    total = bench.size(1_000, 200)
    workflow_id = await workflow(bench.pool, delay_then_noop("bench-delay", "1s"))
    async with processes.spawn(bench, "worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await start_many(bench.pool, workflow_id, "wait", total)
        await processes.wait_until_finished(bench.pool, total, [proc], _DRAIN_TIMEOUT_SECONDS)
    async with bench.pool.acquire() as conn:
        late = [r["late_ms"] for r in await conn.fetch(_LATENESS)]
        claims = await conn.fetchval(_WAKE_CLAIMS)
    if len(late) != total:
        raise RuntimeError(f"expected {total} sleep/wake pairs, found {len(late)}")
    bench.note("executions", total)
    bench.note("worker_env", WORKER_ENV)
    bench.note("poll_interval_seconds", "default (30)")
    bench.record("delay.lateness_p50", percentile(late, 50), "ms")
    bench.record("delay.lateness_p99", percentile(late, 99), "ms")
    bench.record("delay.lateness_max", max(late), "ms")
    bench.record("delay.wake_claims", claims, "claims")
