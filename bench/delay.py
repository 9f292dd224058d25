"""Scenario 3: how late delays fire, with the default 30 s poll interval as the only fallback.

Two shapes. The burst: N executions of `delay 1s` started at once, so they fall due as fast as the worker
started them (its own top speed, whatever the machine's speed that hour). The spread: N executions of `delay
until`, due one a millisecond over N milliseconds from 2 s after they start: due times that do not follow the
machine's speed, N within one second."""

from __future__ import annotations

from bench import processes
from bench.harness import Bench, percentile
from bench.seed import delay_then_noop, start_many, workflow
from conveyor.store import Pool
from conveyor.store.channels import WAKE_CHANNEL

TIME_LIMIT_SECONDS = 90.0
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "200", "CONVEYOR_BATCH_SIZE": "200"}
_DRAIN_TIMEOUT_SECONDS = 60.0

# Due time = the sleep's `until`, or its commit time + its wake_in_seconds (both from the same now() as
# wake_at); lateness = when the wake transition (the claim) committed minus that.
_LATENESS = """
SELECT extract(epoch FROM w.at - coalesce(
           (s.detail->>'until')::timestamptz,
           s.at + make_interval(secs => (s.detail->>'wake_in_seconds')::float8)))::float8 * 1000 AS late_ms
FROM executions e
JOIN execution_history s ON s.execution_id = e.id AND s.event = 'sleep'
JOIN execution_history w ON w.execution_id = e.id AND w.event = 'wake'
WHERE e.workflow_id = $1
"""
# One claim is one statement, and every row it writes has the same now(): its wakes share `at`.
_WAKE_CLAIMS = """
SELECT count(DISTINCT h.at) FROM execution_history h JOIN executions e ON e.id = h.execution_id
WHERE h.event = 'wake' AND e.workflow_id = $1
"""
_SPREAD_START = f"""
WITH inserted AS (
    INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at)
    SELECT gen_random_uuid(), $1, 1, 'idle', 'wait', 1, 1,
           jsonb_build_object('due', extract(epoch FROM now() + make_interval(secs => $3 + g / 1000.0))), now()
    FROM generate_series(0, $2 - 1) AS g
    RETURNING 1
)
SELECT count(*), pg_notify('{WAKE_CHANNEL}', '') FROM inserted
"""
_SPREAD_LEAD_SECONDS = 2.0


def _delay_until_then_noop(name: str) -> dict[str, object]:
    return {
        "name": name,
        "start": "wait",
        "nodes": [
            {"id": "wait", "type": "delay", "until": "{{ input.due }}", "next": "done"},
            {"id": "done", "type": "action", "action": "noop"},
        ],
    }


async def _record_lateness(bench: Bench, pool: Pool, prefix: str, workflow_id: object, total: int) -> None:
    async with pool.acquire() as conn:
        late = [r["late_ms"] for r in await conn.fetch(_LATENESS, workflow_id)]
        claims = await conn.fetchval(_WAKE_CLAIMS, workflow_id)
    if len(late) != total:
        raise RuntimeError(f"expected {total} sleep/wake pairs, found {len(late)}")
    bench.record(f"{prefix}.lateness_p50", percentile(late, 50), "ms")
    bench.record(f"{prefix}.lateness_p99", percentile(late, 99), "ms")
    bench.record(f"{prefix}.lateness_max", max(late), "ms")
    bench.record(f"{prefix}.wake_claims", claims, "claims")


async def run(bench: Bench) -> None:
    """The burst, then the spread, each on one worker; wake lateness from history."""
    total = bench.size(1_000, 200)
    burst_id = await workflow(bench.pool, delay_then_noop("bench-delay", "1s"))
    spread_id = await workflow(bench.pool, _delay_until_then_noop("bench-delay-spread"))
    async with processes.spawn(bench, "worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await start_many(bench.pool, burst_id, "wait", total)
        await processes.wait_until_finished(bench.pool, total, [proc], _DRAIN_TIMEOUT_SECONDS)
        async with bench.pool.acquire() as conn:
            await conn.fetchrow(_SPREAD_START, spread_id, total, _SPREAD_LEAD_SECONDS)
        await processes.wait_until_finished(bench.pool, 2 * total, [proc], _DRAIN_TIMEOUT_SECONDS)
    bench.note("executions", total)
    bench.note("worker_env", WORKER_ENV)
    bench.note("poll_interval_seconds", "default (30)")
    bench.note("spread", f"due one a millisecond from {_SPREAD_LEAD_SECONDS:g} s after the start")
    await _record_lateness(bench, bench.pool, "delay", burst_id, total)
    await _record_lateness(bench, bench.pool, "delay.spread", spread_id, total)
