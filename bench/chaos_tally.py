"""What a chaos round came to: executions lost or not completed, side effects doubled, kills, recovery
times and the history checker's verdict, read from the database, the webhook peer and the crew."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.crew import Crew, Exit
from bench.harness import Bench, percentile
from conveyor.checker import Rule, check_history, doubled_keys
from conveyor.statemachines import CLAIM_EVENTS, COMPLETED
from testkit.peers import WebhookPeer

_OUTCOME = f"""
SELECT count(*) FILTER (WHERE state <> ALL($1::text[])) AS lost,
       count(*) FILTER (WHERE state = '{COMPLETED}') AS completed,
       count(*) FILTER (WHERE parent_id IS NULL) AS parents,
       count(*) AS executions
FROM executions
"""
# From a worker's death (and from its lease's end) to each execution it held being claimed by another worker.
_RECOVERED = """
SELECT extract(epoch FROM min(h.at) - $3)::float8 AS seconds,
       extract(epoch FROM min(h.at) - min(d.lease_end))::float8 AS after_lapse
FROM execution_history h
JOIN unnest($1::uuid[], $5::timestamptz[]) AS d(id, lease_end) ON d.id = h.execution_id
WHERE h.event = ANY($4::text[]) AND h.detail->>'previous_owner' = $2 AND h.at >= $3
GROUP BY h.execution_id
"""


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


async def tally_round(bench: Bench, peer: WebhookPeer, team: Crew, terminal: list[str]) -> Tally:
    """Read what the round came to."""
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
