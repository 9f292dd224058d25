"""Scenario chaos: rounds of a mixed workflow while workers are SIGKILLed at random and failpoints crash them.

Each round: a web process takes N executions (email → webhook → delay → condition → shared flow → email)
over HTTP while three supervised workers run them; every 0.5 to 2 s one worker is SIGKILLed and started again,
and failpoints crash workers after a claim, after a side effect, inside and after a commit, and drop the
connection while a step records its side effect. Afterwards every execution must be terminal, the history
checker must find nothing, and no step's webhook may have reached the peer under two keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from dataclasses import dataclass, field

from bench import processes
from bench.chaos_feed import definitions, post_executions
from bench.chaos_outage import DATABASE_DOWN, Outages, fired_after_return, restart_during
from bench.chaos_watch import fired_since, watch, worker_log_marks
from bench.crew import Crew, Exit, crew
from bench.harness import Bench, ChaosOptions, percentile, truncate
from bench.peers import WebhookPeer
from bench.poll import poll_until
from bench.seed import workflow
from conveyor.checker import Rule, check_history, doubled_keys
from conveyor.statemachines import CLAIM_EVENTS, COMPLETED, TERMINAL_STATES

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
# How often each failpoint fires when reached. A round of 1,000 executions makes some 4,000 claims, 3,500 side
# effects and 7,000 step commits: each crash point fires one to two times a round, so the SIGKILLs (20 and
# more a round) stay the main fault and the crew is seldom down to no worker at all.
_FAILPOINTS = {
    "after_claim": ("crash", 0.0005),
    "after_side_effect": ("crash", 0.0005),
    "in_commit": ("crash", 0.0002),
    "after_commit": ("crash", 0.0002),
    "step_write": ("raise", 0.005),
}
# When a kill is refused (fewer than two workers run their loop), how soon to try again.
_KILL_RETRY_SECONDS = 0.1

_OUTCOME = f"""
SELECT count(*) FILTER (WHERE state <> ALL($1::text[])) AS lost,
       count(*) FILTER (WHERE state = '{COMPLETED}') AS completed,
       count(*) FILTER (WHERE parent_id IS NULL) AS parents,
       count(*) AS executions
FROM executions
"""
_UNFINISHED = "SELECT count(*) FROM executions WHERE state <> ALL($1::text[])"
# From a worker's death (and from its lease's end) to each execution it held being claimed by another worker.
_RECOVERED = """
SELECT extract(epoch FROM min(h.at) - $3)::float8 AS seconds,
       extract(epoch FROM min(h.at) - min(d.lease_end))::float8 AS after_lapse
FROM execution_history h
JOIN unnest($1::uuid[], $5::timestamptz[]) AS d(id, lease_end) ON d.id = h.execution_id
WHERE h.event = ANY($4::text[]) AND h.detail->>'previous_owner' = $2 AND h.at >= $3
GROUP BY h.execution_id
"""


# --ambiguous-commits: 5 % of step commits fail on a dropped connection, 5 % commit and then lose the answer.
AMBIGUOUS_FAILPOINTS = "in_commit:raise@0.05,after_commit:raise@0.05"


def failpoint_spec(options: ChaosOptions) -> str:
    """CONVEYOR_FAILPOINTS for the crew: the ambiguous commits, none under PostgreSQL restarts, else the crashes."""
    if options.ambiguous_commits:
        return AMBIGUOUS_FAILPOINTS
    if options.pg_restarts:
        return ""
    return ",".join(f"{point}:{action}@{chance:g}" for point, (action, chance) in _FAILPOINTS.items())


@dataclass(slots=True)
class Tally:
    """What one round (or all of them) came to."""

    executions: int = 0
    lost: int = 0
    not_completed: int = 0
    doubled_side_effects: int = 0
    redeliveries: int = 0
    kills: int = 0
    failpoint_crashes: int = 0
    unexpected_exits: int = 0
    violations: int = 0
    unrecovered: int = 0
    recovery_seconds: list[float] = field(default_factory=list)
    after_lapse_seconds: list[float] = field(default_factory=list)  # the part of each recovery past the lease
    start_seconds: list[float] = field(default_factory=list)  # each worker process's spawn to its registration
    doubled_transitions: int = 0  # a step (node, visit, attempt) committed twice, per the history checker
    api_errors: int = 0  # answers to a start that were neither a success nor 503, or no answer at all
    fired: Counter[str] = field(default_factory=Counter)  # failpoints fired, by point, from the workers' logs

    def add(self, other: Tally) -> None:
        """Fold a round into the total."""
        for name in self.__slots__:
            mine = getattr(self, name)
            setattr(self, name, mine + getattr(other, name))

    @property
    def bad(self) -> bool:
        """Whether the promise broke."""
        return bool(
            self.lost
            or self.not_completed
            or self.doubled_side_effects
            or self.violations
            or self.unexpected_exits
            or self.api_errors
        )

    def line(self) -> str:
        """One printed line."""
        r, a = self.recovery_seconds, self.after_lapse_seconds
        return (
            f"executions {self.executions} lost {self.lost} not_completed {self.not_completed}"
            f" doubled_side_effects {self.doubled_side_effects} redeliveries_same_key {self.redeliveries}"
            f" doubled_transitions {self.doubled_transitions} api_errors {self.api_errors}"
            f" kills {self.kills} failpoint_crashes {self.failpoint_crashes} unexpected_exits {self.unexpected_exits}"
            f" failpoints_fired {dict(sorted(self.fired.items()))}"
            f" recovery_p50 {percentile(r, 50):.2f}s p99 {percentile(r, 99):.2f}s max {max(r, default=0):.2f}s"
            f" (n {len(r)}, unrecovered {self.unrecovered}; past the lease p50 {percentile(a, 50):.2f}s"
            f" p99 {percentile(a, 99):.2f}s) worker_start p50 {percentile(self.start_seconds, 50):.2f}s"
            f" max {max(self.start_seconds, default=0):.2f}s checker_violations {self.violations}"
        )


async def _kill_until(team: Crew, done: asyncio.Event) -> None:
    """A kill 0.5 to 2 s after the last one, as soon as two workers run (the one killed and one to take over)."""
    pause = random.uniform(*KILL_EVERY_SECONDS)
    while not done.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), pause)
        if done.is_set():
            return
        pause = random.uniform(*KILL_EVERY_SECONDS) if await team.kill_one(LEFT_UP) else _KILL_RETRY_SECONDS


async def _recoveries(bench: Bench, exits: list[Exit]) -> tuple[list[float], list[float], int]:
    seconds: list[float] = []
    after_lapse: list[float] = []
    unrecovered = 0
    async with bench.pool.acquire() as conn:
        for dead in exits:
            if not dead.held:
                continue
            rows = await conn.fetch(_RECOVERED, dead.held, dead.worker_id, dead.at, list(CLAIM_EVENTS), dead.lease_ends)
            seconds.extend(r["seconds"] for r in rows)
            after_lapse.extend(r["after_lapse"] for r in rows)
            unrecovered += len(dead.held) - len(rows)
    return seconds, after_lapse, unrecovered


def side_effects(peer: WebhookPeer) -> tuple[int, int]:
    """(steps whose webhook reached the peer under two keys, requests repeating a step under its one key)."""
    deliveries = []
    for request in peer.received:
        body = request.body if isinstance(request.body, dict) else {}
        deliveries.append(((body.get("execution"), request.path, body.get("visit")), request.key))
    return len(doubled_keys(deliveries)), len(deliveries) - len(set(deliveries))


async def _round(bench: Bench, peer: WebhookPeer, web: str, executions: int, env: dict[str, str]) -> Round:
    await truncate(bench.pool)
    peer.received.clear()
    child, parent = definitions(peer)
    await workflow(bench.pool, child)
    workflow_id = await workflow(bench.pool, parent)
    feed_seconds = max(executions / 10, 10.0)  # 1,000 executions over 100 s: 20 and more kills meet them
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
    tally = await _tally(bench, peer, team, terminal)
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


async def _tally(bench: Bench, peer: WebhookPeer, team: Crew, terminal: list[str]) -> Tally:
    async with bench.pool.acquire() as conn:
        outcome = await conn.fetchrow(_OUTCOME, terminal)
    assert outcome is not None
    report = await check_history(bench.pool)
    doubled, redeliveries = side_effects(peer)
    recovery, after_lapse, unrecovered = await _recoveries(bench, team.exits)
    causes = [e.cause for e in team.exits]
    if not report.ok:
        print(f"# checker: {report.summary()}", flush=True)
    return Tally(
        executions=outcome["executions"],
        lost=outcome["lost"],
        not_completed=outcome["executions"] - outcome["completed"],
        doubled_side_effects=doubled,
        redeliveries=redeliveries,
        kills=causes.count("killed"),
        failpoint_crashes=causes.count("failpoint"),
        unexpected_exits=causes.count("unexpected"),
        violations=len(report.violations),
        doubled_transitions=sum(v.rule is Rule.DOUBLED_STEP for v in report.violations),
        unrecovered=unrecovered,
        recovery_seconds=recovery,
        after_lapse_seconds=after_lapse,
        start_seconds=await team.start_seconds(),
    )


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
