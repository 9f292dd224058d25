"""Scenario: many executions waiting for events, then as many matching events at once.

N executions (10,000; 500 under --quick) of `wait_for_event(bench.engaged, match on input.user) → noop` park
on one worker; then one INSERT puts N application events into the inbox, one per user, and the worker
matches and resumes them all. Figures, by the database's clock, from the first event's insert:
- events matched per second: N over the span to the last wait closed by its event;
- executions resumed per second: N over the span to the last execution claimed again (its `wake` history row);
- lateness p50 / p99: each event's insert to its execution's `wake`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from bench import processes, throughput
from bench.harness import Bench, percentile, server_cpu_seconds
from bench.seed import workflow
from conveyor.store import Pool
from conveyor.store.channels import WAKE_CHANNEL
from testkit.poll import poll_until

TIME_LIMIT_SECONDS = 300.0
# The worker the throughput drain starts executions with: a resumed wait is judged against that start rate.
WORKER_ENV = throughput.WORKER_ENV
_PARK_TIMEOUT_SECONDS = 150.0
_DRAIN_TIMEOUT_SECONDS = 120.0
_EVENT = "bench.engaged"

# Executions as the API starts them (idle, due now), each for its own user, and one NOTIFY.
_START_WAITING = f"""
WITH inserted AS (
    INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at)
    SELECT gen_random_uuid(), $1, 1, 'idle', 'wait', 1, 1, jsonb_build_object('user', 'u' || g), now()
    FROM generate_series(1, $2) AS g
    RETURNING 1
)
SELECT count(*), pg_notify('{WAKE_CHANNEL}', '') FROM inserted
"""
_OPEN_WAITS = "SELECT count(*) FROM event_waits WHERE closed_at IS NULL"
# An application's events: inbox rows without a trigger, recorded in event_log by the inbox stage.
_SEND_EVENTS = """
INSERT INTO trigger_events (type, payload)
SELECT $1, jsonb_build_object('user', 'u' || g) FROM generate_series(1, $2) AS g
"""
_TIMES = """
SELECT extract(epoch FROM h.at - e.created_at)::float8 * 1000 AS late_ms,
       extract(epoch FROM w.closed_at - first.at)::float8 AS matched_s,
       extract(epoch FROM h.at - first.at)::float8 AS resumed_s,
       extract(epoch FROM x.finished_at - h.at)::float8 * 1000 AS run_ms
FROM event_waits w
JOIN executions x ON x.id = w.execution_id
JOIN event_log e ON e.id = w.event_id
JOIN execution_history h ON h.execution_id = w.execution_id AND h.event = 'wake'
CROSS JOIN (SELECT min(created_at) AS at FROM event_log) AS first
"""


def waiting_flow(name: str) -> dict[str, object]:
    """A workflow that waits an hour for its user's `bench.engaged`, then runs one noop."""
    match = {"==": [{"var": "event.payload.user"}, {"var": "input.user"}]}
    return {
        "name": name,
        "start": "wait",
        "nodes": [
            {
                "id": "wait",
                "type": "wait_for_event",
                "events": [_EVENT],
                "match": match,
                "timeout": "1h",
                "on_event": "done",
                "on_timeout": "done",
            },
            {"id": "done", "type": "action", "action": "noop"},
        ],
    }


async def _parked(pool: Pool, total: int) -> None:
    async def check() -> bool:
        async with pool.acquire() as conn:
            return bool(await conn.fetchval(_OPEN_WAITS) >= total)

    await poll_until(check, f"{total} parked waits", _PARK_TIMEOUT_SECONDS, interval_seconds=0.25)


async def run(bench: Bench) -> None:
    """Park N waits on one worker, send N matching events at once, measure matching and resuming."""
    total = bench.size(10_000, 500)
    workflow_id: uuid.UUID = await workflow(bench.pool, waiting_flow("bench-wait"))
    async with processes.spawn(bench, "wait-worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        async with bench.pool.acquire() as conn:
            await conn.fetchrow(_START_WAITING, workflow_id, total)
        await _parked(bench.pool, total)
        cpu_before = processes.cpu_seconds(proc.pid)
        server_before = await server_cpu_seconds(bench.pool)
        async with bench.pool.acquire() as conn:
            await conn.execute(_SEND_EVENTS, _EVENT, total)
        await processes.wait_until_finished(bench.pool, total, [proc], _DRAIN_TIMEOUT_SECONDS)
        cpu = processes.cpu_seconds(proc.pid) - cpu_before
        server_after = await server_cpu_seconds(bench.pool)
    async with bench.pool.acquire() as conn:
        rows = await conn.fetch(_TIMES)
    if len(rows) != total:
        raise RuntimeError(f"expected {total} waits resumed by an event, found {len(rows)}")
    bench.note("waiting_executions", total)
    bench.note("worker_env", WORKER_ENV)
    bench.record("wait.events_matched_per_s", total / max(r["matched_s"] for r in rows), "events/s")
    resumed_per_s = total / max(r["resumed_s"] for r in rows)
    bench.record("wait.resumed_per_s", resumed_per_s, "executions/s")
    started_per_s = bench.value("throughput.1w.executions_per_s")
    if started_per_s:
        bench.record("wait.resumed_vs_started", resumed_per_s / started_per_s, "ratio")
    # the worker's CPU from the events' insert to the last execution's end (the inbox, matching and resuming)
    bench.record("wait.worker_cpu_per_resume", cpu / total * 1000, "ms")
    if server_before is not None and server_after is not None:
        bench.record("wait.postgres_cpu_per_resume", (server_after - server_before) / total * 1000, "ms")
    bench.note("timeline", _timeline(rows))
    runs = [r["run_ms"] for r in rows]
    bench.note("run_ms_p50_p99", (percentile(runs, 50), percentile(runs, 99)))
    late = [r["late_ms"] for r in rows]
    bench.record("wait.lateness_p50", percentile(late, 50), "ms")
    bench.record("wait.lateness_p99", percentile(late, 99), "ms")


def _timeline(rows: Sequence[asyncpg.Record]) -> list[tuple[float, int, int]]:
    """Per half second from the first event: the waits closed by their events, and the executions woken."""
    end = max(max(r["matched_s"], r["resumed_s"]) for r in rows)
    matched = [0] * (int(end * 2) + 1)
    woken = [0] * len(matched)
    for r in rows:
        matched[int(r["matched_s"] * 2)] += 1
        woken[int(r["resumed_s"] * 2)] += 1
    return [(i / 2, m, w) for i, (m, w) in enumerate(zip(matched, woken, strict=True))]
