"""Scenario: rows becoming executions, through the inbox and through a polled table, and one row's lateness.

- inbox: 10,000 rows INSERTed into `trigger_events` at once for an event trigger, consumed by one worker;
  rows/s from the insert to the last execution created.
- coalesce: the same 10,000 rows for a trigger coalescing them by key into 1,000 groups (`quiet` 100ms);
  rows/s from the insert to the last group's execution created (the quiet period included).
- poll: 100,000 rows INSERTed at once into an application table a poll trigger reads; rows/s likewise.
- statements: how many statements one inbox batch of 1,000 rows costs, counted on the connection.
- lateness: one row inserted while the system is idle, at the default 30 s poll interval, 20 times; the
  time from the row's insert to its execution's first claim (both by the database's clock).
"""

from __future__ import annotations

import asyncio
import uuid

from bench import processes
from bench.harness import Bench, percentile, truncate
from bench.seed import noop_chain, workflow
from conveyor.commands.triggers import create_trigger
from conveyor.db import create_pool
from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.store import Pool
from testkit.poll import poll_until

TIME_LIMIT_SECONDS = 240.0
WORKER_ENV = {"CONVEYOR_CONCURRENCY": "50", "CONVEYOR_BATCH_SIZE": "100"}
_DRAIN_TIMEOUT_SECONDS = 120.0
_EVENT = "bench.signup"

_INSERT_EVENTS = """
INSERT INTO trigger_events (type, payload, dedupe_key)
SELECT $1, jsonb_build_object('n', g, 'email', 'user' || g || '@example.com'), 'row-' || g
FROM generate_series($2::int, $3::int) AS g
"""
_INSERT_GROUPED = """
INSERT INTO trigger_events (type, payload)
SELECT $1, jsonb_build_object('n', g, 'group', g % $3) FROM generate_series(1, $2::int) AS g
"""
_TABLE = """
DROP TABLE IF EXISTS bench_signups;
CREATE TABLE bench_signups (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);
GRANT SELECT ON bench_signups TO conveyor_poll
"""
_INSERT_ROWS = "INSERT INTO bench_signups (email) SELECT 'user' || g || '@example.com' FROM generate_series(1, $1) g"
# From the first inbox row written to the last execution the inbox stage created, by the database's clock.
_INBOX_SPAN = """
SELECT extract(epoch FROM (SELECT max(created_at) FROM executions) - (SELECT min(created_at) FROM trigger_events))
"""
_SPAN_SINCE = "SELECT extract(epoch FROM (SELECT max(created_at) FROM executions) - $1::timestamptz)"
_LATENESS = """
SELECT extract(epoch FROM h.at - e.created_at)::float8 * 1000 FROM trigger_events e
JOIN execution_history h ON h.execution_id = e.execution_id AND h.event = 'start'
WHERE e.dedupe_key = $1
"""


async def _count(pool: Pool, total: int) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT count(*) FROM executions") >= total)


async def inbox_rate(bench: Bench) -> None:
    """10,000 event rows at once, one worker."""
    total = bench.size(10_000, 1_000)
    await truncate(bench.pool)
    flow = await workflow(bench.pool, noop_chain("bench-trigger-inbox", 1))
    await create_trigger(bench.pool, str(flow), {"type": "event", "event": _EVENT})
    async with processes.spawn(bench, "inbox-worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        async with bench.pool.acquire() as conn:
            await conn.execute(_INSERT_EVENTS, _EVENT, 1, total)
        await poll_until(lambda: _count(bench.pool, total), "every row's execution", _DRAIN_TIMEOUT_SECONDS)
    async with bench.pool.acquire() as conn:
        span = float(await conn.fetchval(_INBOX_SPAN))
    bench.note("inbox_rows", total)
    bench.record("trigger.inbox.rows_per_s", total / span, "rows/s")
    api_rate = bench.value("api.requests_per_s")
    if api_rate:
        bench.record("trigger.inbox_vs_api", total / span / api_rate, "ratio")


async def coalesce_rate(bench: Bench) -> None:
    """10,000 event rows at once, ten per key, for a coalescing trigger; one worker."""
    total = bench.size(10_000, 1_000)
    groups = total // 10
    await truncate(bench.pool)
    flow = await workflow(bench.pool, noop_chain("bench-trigger-coalesce", 1))
    coalesce = {"key": "{{ payload.group }}", "quiet": "100ms", "max_wait": "1s", "payload": "all"}
    await create_trigger(bench.pool, str(flow), {"type": "event", "event": _EVENT, "coalesce": coalesce})
    async with processes.spawn(bench, "coalesce-worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        async with bench.pool.acquire() as conn:
            await conn.execute(_INSERT_GROUPED, _EVENT, total, groups)
        await poll_until(lambda: _count(bench.pool, groups), "every group's execution", _DRAIN_TIMEOUT_SECONDS)
    async with bench.pool.acquire() as conn:
        span = float(await conn.fetchval(_INBOX_SPAN))
    bench.note("coalesced_rows", total)
    bench.note("coalesced_groups", groups)
    bench.record("trigger.coalesce.rows_per_s", total / span, "rows/s")


async def poll_rate(bench: Bench) -> None:
    """100,000 rows of an application table at once, one poll trigger, one worker."""
    total = bench.size(100_000, 5_000)
    await truncate(bench.pool)
    async with bench.pool.acquire() as conn:
        await conn.execute(_TABLE)
    flow = await workflow(bench.pool, noop_chain("bench-trigger-poll", 1))
    definition = {"type": "poll", "table": "bench_signups", "cursor": "id", "interval": "1s", "batch": 5000}
    await create_trigger(bench.pool, str(flow), definition)
    try:
        async with processes.spawn(bench, "poll-worker", "worker", env=WORKER_ENV) as proc:
            await processes.wait_for_workers(bench.pool, [proc])
            async with bench.pool.acquire() as conn:
                inserted_at = await conn.fetchval("SELECT clock_timestamp()")
                await conn.execute(_INSERT_ROWS, total)
            await poll_until(lambda: _count(bench.pool, total), "every table row's execution", _DRAIN_TIMEOUT_SECONDS)
        async with bench.pool.acquire() as conn:
            span = float(await conn.fetchval(_SPAN_SINCE, inserted_at))
    finally:
        async with bench.pool.acquire() as conn:
            await conn.execute("DROP TABLE IF EXISTS bench_signups")
    bench.note("polled_rows", total)
    bench.record("trigger.poll.rows_per_s", total / span, "rows/s")


async def statements_per_batch(bench: Bench) -> None:
    """Count what one inbox batch of 1,000 rows sends on its connection."""
    await truncate(bench.pool)
    flow = await workflow(bench.pool, noop_chain("bench-trigger-statements", 1))
    await create_trigger(bench.pool, str(flow), {"type": "event", "event": _EVENT})
    pool = await create_pool(bench.dsn, min_size=1, max_size=1)
    logged: list[str] = []
    try:
        async with pool.acquire() as conn:  # a first batch lets asyncpg introspect the statements once
            await conn.execute(_INSERT_EVENTS, _EVENT, 0, 0)
        await consume_inbox(pool, TriggerCache(), 1000)
        async with pool.acquire() as conn:
            await conn.execute(_INSERT_EVENTS, _EVENT, 1, 1000)
            conn.add_query_logger(lambda q: logged.append(q.query))
        consumed = await consume_inbox(pool, TriggerCache(), 1000)
    finally:
        await pool.close()
    statements = [q for q in logged if q.strip().rstrip(";").upper() not in ("BEGIN", "COMMIT")]
    bench.note("statements_batch_rows", consumed)
    bench.record("trigger.inbox.statements_per_batch", len(statements), "statements")


async def idle_lateness(bench: Bench) -> None:
    """One row at a time into an idle system, at the default poll interval."""
    samples = bench.size(20, 5)
    await truncate(bench.pool)
    flow = await workflow(bench.pool, noop_chain("bench-trigger-idle", 1))
    await create_trigger(bench.pool, str(flow), {"type": "event", "event": _EVENT})
    late: list[float] = []
    async with processes.spawn(bench, "idle-worker", "worker") as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        for i in range(samples):
            await asyncio.sleep(0.2)  # let the worker go back to sleep: the row must wake it
            key = f"row-{i}-{uuid.uuid4().hex[:6]}"
            async with bench.pool.acquire() as conn:
                await conn.execute(
                    "INSERT INTO trigger_events (type, payload, dedupe_key) VALUES ($1, '{}', $2)", _EVENT, key
                )

            late.append(await _claim_lateness(bench.pool, key))
    bench.record("trigger.idle_lateness_p50", percentile(late, 50), "ms")
    bench.record("trigger.idle_lateness_p99", percentile(late, 99), "ms")


async def _claim_lateness(pool: Pool, key: str) -> float:
    async def claimed() -> list[float]:
        async with pool.acquire() as conn:
            value: float | None = await conn.fetchval(_LATENESS, key)
        return [] if value is None else [value]

    [late] = await poll_until(claimed, "the row's execution to be claimed", 10.0)
    return late


async def run(bench: Bench) -> None:
    """Each part on emptied tables."""
    await statements_per_batch(bench)
    await inbox_rate(bench)
    await coalesce_rate(bench)
    await poll_rate(bench)
    await idle_lateness(bench)
