"""Scenario: three steps of the team's own async action (`bench.echo`, loaded by CONVEYOR_ACTIONS) against three
noop steps, each drained by one worker process in the same run: what running user code through the registry
costs a step."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench import processes
from bench.harness import Bench, truncate
from bench.seed import start_many, workflow

TIME_LIMIT_SECONDS = 150.0
_DRAIN_TIMEOUT_SECONDS = 60.0
_WORKER_ENV = {
    "CONVEYOR_CONCURRENCY": "200",
    "CONVEYOR_BATCH_SIZE": "200",
    "CONVEYOR_ACTIONS": "bench.echo_action",
    # The worker runs from the installed package; the bench's own module comes from this checkout.
    "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
}


def _chain(name: str, action: str) -> dict[str, object]:
    ids = ["s1", "s2", "s3"]
    nodes = [
        {"id": node, "type": "action", "action": action, "params": {"i": i}, **({"next": ids[i]} if i < 3 else {})}
        for i, node in enumerate(ids, start=1)
    ]
    return {"name": name, "start": "s1", "nodes": nodes}


async def _drain(bench: Bench, action: str, total: int) -> tuple[float, float]:
    """Steps/s, and the worker's CPU milliseconds per step (less swayed by a busy machine than the rate)."""
    await truncate(bench.pool)
    async with processes.spawn(bench, f"worker-{action}", "worker", env=_WORKER_ENV) as proc:
        await processes.wait_for_workers(bench.pool, [proc])
        workflow_id = await workflow(bench.pool, _chain(f"bench-actions-{action}", action))
        began, cpu_before = time.monotonic(), processes.cpu_seconds(proc.pid)
        await start_many(bench.pool, workflow_id, "s1", total)
        await processes.wait_until_finished(bench.pool, total, [proc], _DRAIN_TIMEOUT_SECONDS)
        cpu = processes.cpu_seconds(proc.pid) - cpu_before
    async with bench.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE state = 'completed') AS completed,"
            " extract(epoch FROM max(finished_at) - min(created_at))::float8 AS wall,"
            " (SELECT count(*) FROM execution_steps) AS steps FROM executions"
        )
    assert row is not None, action
    assert row["completed"] == total, f"{action}: {dict(row)} after {time.monotonic() - began:.1f} s"
    return float(row["steps"]) / float(row["wall"]), cpu / float(row["steps"]) * 1000


# Each pair in both orders: a drain's position in the run moves its figure more than what it runs does.
_ORDER = ("noop", "bench.echo", "bench.echo", "noop", "noop", "bench.echo")


async def run(bench: Bench) -> None:
    """noop and the registered action drained alternately, three times each; their medians compared."""
    total = bench.size(2_000, 300)
    rates: dict[str, list[float]] = {"noop": [], "bench.echo": []}
    cpu: dict[str, list[float]] = {"noop": [], "bench.echo": []}
    for action in _ORDER:
        rate, cpu_per_step = await _drain(bench, action, total)
        rates[action].append(rate)
        cpu[action].append(cpu_per_step)
    noop, python = statistics.median(rates["noop"]), statistics.median(rates["bench.echo"])
    bench.note("drains", {"order": list(_ORDER), "steps_per_s": rates, "worker_cpu_ms_per_step": cpu})
    bench.record("actions.noop.steps_per_s", noop, "steps/s")
    bench.record("actions.python.steps_per_s", python, "steps/s")
    bench.record("actions.python_vs_noop", python / noop, "ratio")
    bench.record("actions.noop.worker_cpu_per_step", statistics.median(cpu["noop"]), "ms")
    bench.record("actions.python.worker_cpu_per_step", statistics.median(cpu["bench.echo"]), "ms")
