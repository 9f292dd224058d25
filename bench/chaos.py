"""Scenario chaos: rounds of a mixed workflow while workers are SIGKILLed at random and failpoints crash them.

Each round: a web process takes N executions (email → webhook → delay → condition → shared flow → email)
over HTTP, fed over 0.12 N seconds, while three supervised workers run them; 0.5 to 2 s after the last kill,
as soon as all three run, one is SIGKILLed and started again, and failpoints crash workers after a claim,
after a side effect, inside and after a commit, and drop the connection while a step records its side effect.
Afterwards every execution must have completed, the history checker must find nothing, and no step's webhook
may have reached the peer under two keys.

`--pg-restarts N` restarts PostgreSQL N times a round instead (no kills, no failpoints); `--ambiguous-commits`
arms only the two ambiguous-commit failpoints (no kills). Both run one round unless `--rounds` says more.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

from bench import processes
from bench.chaos_feed import definitions, post_executions
from bench.chaos_outage import DATABASE_DOWN, Outages, fired_after_return, restart_during
from bench.chaos_tally import Tally, tally_round
from bench.chaos_watch import fired_since, watch, worker_log_marks
from bench.crew import Crew, crew
from bench.harness import Bench, ChaosOptions, percentile, truncate
from bench.seed import workflow
from conveyor.statemachines import TERMINAL_STATES
from testkit.peers import WebhookPeer
from testkit.poll import poll_until

TIME_LIMIT_SECONDS = 3600.0
LEASE_SECONDS = 2.0
WORKERS = 3
KILL_EVERY_SECONDS = (0.5, 2.0)
# The webhook target answers after this long, as a remote one would: a kill meets calls in flight.
PEER_SECONDS = 0.25
# A kill leaves at least this many workers running: a failpoint crash of the one left would leave nobody to
# take the killed worker's executions over, and recovery would wait for a worker's start (seconds of CPU).
LEFT_UP = 2
_SETTLE_SECONDS = 180.0
# How often each failpoint fires when reached. A round of 1,000 executions makes some 4,000 claims, 7,000 node
# runs and 7,000 step commits: each crash point fires one to two times a round, so the SIGKILLs (20 and more a
# round) stay the main fault and seldom meet a crash that leaves the crew with nobody running.
_FAILPOINTS = {
    "after_claim": ("crash", 0.0004),
    "after_side_effect": ("crash", 0.0002),
    "in_commit": ("crash", 0.0002),
    "after_commit": ("crash", 0.0002),
    "step_write": ("raise", 0.005),
}
# When a kill is refused (fewer than two workers run their loop), how soon to try again.
_KILL_RETRY_SECONDS = 0.1

_UNFINISHED = "SELECT count(*) FROM executions WHERE state <> ALL($1::text[])"


# --ambiguous-commits: 5 % of step commits fail on a dropped connection, 5 % commit and then lose the answer.
AMBIGUOUS_FAILPOINTS = "in_commit:raise@0.05,after_commit:raise@0.05"


def failpoint_spec(options: ChaosOptions) -> str:
    """CONVEYOR_FAILPOINTS for the crew: the ambiguous commits, none under PostgreSQL restarts, else the crashes."""
    if options.ambiguous_commits:
        return AMBIGUOUS_FAILPOINTS
    if options.pg_restarts:
        return ""
    return ",".join(f"{point}:{action}@{chance:g}" for point, (action, chance) in _FAILPOINTS.items())


async def _kill_until(team: Crew, done: asyncio.Event) -> None:
    """A kill 0.5 to 2 s after the last one, as soon as two workers run (the one killed and one to take over)."""
    pause = random.uniform(*KILL_EVERY_SECONDS)
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), pause)
        if done.is_set():
            return
        pause = random.uniform(*KILL_EVERY_SECONDS) if await team.kill_one(LEFT_UP) else _KILL_RETRY_SECONDS


async def _round(bench: Bench, peer: WebhookPeer, web: str, executions: int, env: dict[str, str]) -> Round:
    await truncate(bench.pool)
    peer.received.clear()
    child, parent = definitions(peer)
    await workflow(bench.pool, child)
    workflow_id = await workflow(bench.pool, parent)
    feed_seconds = max(executions * 0.12, 10.0)  # 1,000 executions over 120 s: 20 and more kills meet them
    terminal = sorted(TERMINAL_STATES)
    log_marks = worker_log_marks(bench, WORKERS)
    done = asyncio.Event()
    async with crew(bench, WORKERS, env) as team, watch(team) as seen:
        faults = asyncio.create_task(_faults(bench, web, team, done, feed_seconds))
        api_errors = await post_executions(f"{web}/workflows/{workflow_id}/executions", executions, feed_seconds)

        async def settled() -> bool:
            team.check()
            try:
                async with bench.pool.acquire() as conn:
                    return bool(await conn.fetchval(_UNFINISHED, terminal) == 0)
            except DATABASE_DOWN:
                return False

        with contextlib.suppress(TimeoutError):
            await poll_until(settled, "every execution to end", _SETTLE_SECONDS, interval_seconds=0.25)
        done.set()
        outages = await faults
    print(f"# {seen.line()}", flush=True)
    tally = await tally_round(bench, peer, team, terminal)
    tally.api_errors = len(api_errors)
    tally.fired = fired_since(log_marks)
    if outages is not None:
        await fired_after_return(bench, outages)
        print(f"# {outages.line()}", flush=True)
    return Round(tally, outages)


@dataclass(frozen=True, slots=True)
class Round:
    """A round's tally, and its PostgreSQL restarts when it had some."""

    tally: Tally
    outages: Outages | None


async def _faults(bench: Bench, web: str, team: Crew, done: asyncio.Event, feed_seconds: float) -> Outages | None:
    """PostgreSQL restarts spread over the feed (--pg-restarts); else kills, unless --ambiguous-commits."""
    n = bench.chaos.pg_restarts
    if n:
        assert bench.cluster is not None, "--pg-restarts needs the bench's own PostgreSQL (no DATABASE_URL)"
        return await restart_during(
            bench, bench.cluster, web, team, [feed_seconds * i / (n + 1) for i in range(1, n + 1)]
        )
    if not bench.chaos.ambiguous_commits:
        await _kill_until(team, done)
    return None


async def run(bench: Bench) -> None:
    """R rounds of N executions under kills and failpoints (or PostgreSQL restarts, or ambiguous commits);
    figures per round and in total."""
    options = bench.chaos
    rounds = options.rounds or (1 if options.pg_restarts or options.ambiguous_commits else bench.size(10, 1))
    executions = bench.size(1_000, 100)
    env = {
        "CONVEYOR_LEASE_SECONDS": str(LEASE_SECONDS),
        "CONVEYOR_CONCURRENCY": "20",
        "CONVEYOR_BATCH_SIZE": "20",
        "CONVEYOR_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "CONVEYOR_EMAIL_TRANSPORT": "log",
        "CONVEYOR_FAILPOINTS": failpoint_spec(options),
    }
    port = processes.free_port()
    web = f"http://127.0.0.1:{port}"
    total, outages = Tally(), Outages()
    async with (
        WebhookPeer(delay_seconds=PEER_SECONDS) as peer,
        processes.spawn(bench, "web", "web", "--host", "127.0.0.1", "--port", str(port)) as web_proc,
    ):
        await processes.wait_for_http(web_proc, f"{web}/health/live")
        for r in range(1, rounds + 1):
            done = await _round(bench, peer, web, executions, env)
            print(f"# round {r}/{rounds}: {done.tally.line()}", flush=True)
            total.add(done.tally)
            if done.outages is not None:
                outages.outages.extend(done.outages.outages)
                outages.fired_after_return.extend(done.outages.fired_after_return)
    print(f"# total: {total.line()}", flush=True)
    if options.pg_restarts:
        print(f"# total: {outages.line()}", flush=True)
    bench.note("failpoints", env["CONVEYOR_FAILPOINTS"])
    bench.note("rounds", rounds)
    names = ("executions", "lost", "not_completed", "doubled_side_effects", "doubled_transitions", "redeliveries")
    for name in (*names, "kills", "api_errors"):
        bench.record(f"chaos.{name}", getattr(total, name), "count")
    bench.record("chaos.failpoint_crashes", total.failpoint_crashes, "count")
    bench.record("chaos.checker_violations", total.violations, "count")
    bench.record("chaos.recovery_p50", percentile(total.recovery_seconds, 50), "s")
    bench.record("chaos.recovery_p99", percentile(total.recovery_seconds, 99), "s")
    bench.record("chaos.recovery_max", max(total.recovery_seconds, default=0.0), "s")
    if options.pg_restarts:
        bench.record("chaos.pg_restarts", len(outages.outages), "count")
        bench.record("chaos.delay_fired_after_return_max", max(outages.fired_after_return, default=0.0), "s")
    if total.bad or outages.bad_answers or outages.slow:
        raise RuntimeError(f"the promise broke: {total.line()} {outages.line()}")
