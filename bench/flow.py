"""Scenario: the flow language's fan-out, on one worker as the three-step throughput figure runs it.

- foreach: one execution runs a `transform` for each of N items (10,000; 1,000 under --quick), 200 at once.
  Items per second from the execution's start to its end, by the database's clock, and the transactions that
  started the items (their distinct `created_at`: one statement in one transaction, by design).
- parallel: M executions (2,000; 300 under --quick) of a `parallel` node with three noop branches and a noop
  join, each branch a child execution. Executions per second, beside the three-step figure of the same run.
"""

from __future__ import annotations

from bench import processes, throughput
from bench.harness import Bench, truncate
from bench.seed import start_many, workflow
from conveyor.commands.operations import start_execution

TIME_LIMIT_SECONDS = 240.0
WORKER_ENV = throughput.WORKER_ENV
_DRAIN_TIMEOUT_SECONDS = 150.0

_FOREACH: dict[str, object] = {
    "name": "bench-foreach",
    "start": "each",
    "nodes": [
        {"id": "each", "type": "foreach", "items": "{{ input.items }}", "branch": "item", "concurrency": 200},
        {"id": "item", "type": "transform", "set": {"v": "{{ input.item }}"}},
    ],
}
_PARALLEL: dict[str, object] = {
    "name": "bench-parallel",
    "start": "fork",
    "nodes": [
        {"id": "fork", "type": "parallel", "branches": ["a", "b", "c"], "join": "join"},
        {"id": "a", "type": "action", "action": "noop", "next": "join"},
        {"id": "b", "type": "action", "action": "noop", "next": "join"},
        {"id": "c", "type": "action", "action": "noop", "next": "join"},
        {"id": "join", "type": "action", "action": "noop"},
    ],
}
_FOREACH_TIMES = """
SELECT extract(epoch FROM p.finished_at - p.created_at)::float8 AS wall,
       (SELECT count(DISTINCT c.created_at) FROM executions c WHERE c.parent_id = p.id) AS start_transactions,
       (SELECT count(*) FROM executions c WHERE c.parent_id = p.id AND c.state = 'completed') AS completed
FROM executions p WHERE p.parent_id IS NULL
"""
_PARALLEL_TIMES = """
SELECT count(*) FILTER (WHERE state = 'completed') AS completed,
       extract(epoch FROM max(finished_at) - min(created_at))::float8 AS wall
FROM executions WHERE parent_id IS NULL
"""


async def _foreach(bench: Bench) -> None:
    total = bench.size(10_000, 1_000)
    await truncate(bench.pool)
    await workflow(bench.pool, _FOREACH)
    async with processes.spawn(bench, "flow-worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await start_execution(bench.pool, "bench-foreach", {"items": list(range(total))})
        await processes.wait_until_finished(bench.pool, total + 1, [proc], _DRAIN_TIMEOUT_SECONDS)
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow(_FOREACH_TIMES)
    assert row is not None
    if row["completed"] != total:
        raise RuntimeError(f"expected {total} items completed, found {row['completed']}")
    bench.note("foreach_items", total)
    bench.record("flow.foreach.items_per_s", total / row["wall"], "items/s")
    bench.record("flow.foreach.start_transactions", row["start_transactions"], "transactions")


async def _parallel(bench: Bench) -> None:
    total = bench.size(2_000, 300)
    await truncate(bench.pool)
    workflow_id = await workflow(bench.pool, _PARALLEL)
    async with processes.spawn(bench, "flow-worker", "worker", env=WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        await start_many(bench.pool, workflow_id, "fork", total)
        await processes.wait_until_finished(bench.pool, total * 4, [proc], _DRAIN_TIMEOUT_SECONDS)
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow(_PARALLEL_TIMES)
    assert row is not None
    per_s = row["completed"] / row["wall"]
    bench.note("parallel_executions", total)
    bench.record("flow.parallel.executions_per_s", per_s, "exec/s")
    three_step = bench.value("throughput.1w.executions_per_s")
    if three_step:
        bench.record("flow.parallel_vs_three_step", per_s / three_step, "ratio")


async def run(bench: Bench) -> None:
    """A foreach of N items, then M parallel executions of three branches."""
    await _foreach(bench)
    await _parallel(bench)
