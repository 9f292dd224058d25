"""PostgreSQL restarted (`pg_ctl restart -m immediate`) under a chaos round: what the API answered while it was
away, how soon the web process, each worker and its LISTEN connection were back, and how late the delays that
fell due during each outage fired after the database's return."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import asyncpg

from bench.cluster import Cluster
from bench.crew import Crew
from bench.harness import Bench
from conveyor.statemachines import DELAYED
from testkit.poll import poll_until

# What a query meets while the database is away or starting up.
DATABASE_DOWN = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
)
BACK_WITHIN_SECONDS = 10.0
_PROBE_SECONDS = 0.05
_DUE_SOON = f"SELECT id, wake_at FROM executions WHERE state = '{DELAYED}' AND wake_at <= now() + interval '30 s'"
# The first claim of each execution at or after its due time, against the database's return.
_FIRED = """
SELECT extract(epoch FROM min(h.at) - $3)::float8 FROM execution_history h
JOIN unnest($1::uuid[], $2::timestamptz[]) AS d(id, due) ON d.id = h.execution_id
WHERE h.event = 'wake' AND h.at >= d.due
GROUP BY h.execution_id
"""
_HEARTBEATS = "SELECT count(*) FROM workers WHERE pid = ANY($1::int[]) AND heartbeat_at > $2"


@dataclass(slots=True)
class Outage:
    """One restart, as the round saw it."""

    down_at: datetime
    back_at: datetime  # pg_ctl returned: the server accepts connections again
    away_answers: list[tuple[int, str | None]] = field(default_factory=list)  # the API's (status, Retry-After)
    web_back: float = float("nan")  # seconds from back_at to the API's first 200
    workers_back: float = float("nan")  # to every worker's heartbeat
    listen_back: float = float("nan")  # to every worker's LISTEN connection re-established
    due: list[tuple[uuid.UUID, datetime]] = field(default_factory=list)  # delays that fell due while away

    @property
    def away_seconds(self) -> float:
        """From the restart's start to the server accepting connections."""
        return (self.back_at - self.down_at).total_seconds()


@dataclass(slots=True)
class Outages:
    """Every restart of a round, and the delays that fell due during them, fired (seconds after the return)."""

    outages: list[Outage] = field(default_factory=list)
    fired_after_return: list[float] = field(default_factory=list)

    @property
    def bad_answers(self) -> list[tuple[int, str | None]]:
        """API answers while away that were not 503 with a Retry-After."""
        return [(s, r) for o in self.outages for s, r in o.away_answers if s != 503 or not (r and r.isdigit())]

    @property
    def slow(self) -> bool:
        """Whether anything came back later than BACK_WITHIN_SECONDS, or a due delay fired more than 1 s late."""
        backs = [x for o in self.outages for x in (o.web_back, o.workers_back, o.listen_back)]
        return any(not b <= BACK_WITHIN_SECONDS for b in backs) or max(self.fired_after_return, default=0) > 1.0

    def line(self) -> str:
        """One printed line."""
        o = self.outages
        statuses = sorted({s for x in o for s, _ in x.away_answers})
        web, workers, listen = (
            max((getattr(x, a) for x in o), default=0.0) for a in ("web_back", "workers_back", "listen_back")
        )
        return (
            f"pg_restarts {len(o)} away max {max((x.away_seconds for x in o), default=0):.2f}s;"
            f" API while away: {sum(len(x.away_answers) for x in o)} answers, statuses {statuses},"
            f" without 503 + Retry-After {len(self.bad_answers)}; back after (max of the restarts):"
            f" web {web:.2f}s workers {workers:.2f}s LISTEN {listen:.2f}s; delays due while away"
            f" {len(self.fired_after_return)} fired after the return max {max(self.fired_after_return, default=0):.2f}s"
        )


async def restart_during(bench: Bench, cluster: Cluster, web: str, team: Crew, at: list[float]) -> Outages:
    """Restart PostgreSQL at each of `at` (seconds from now) and watch everything come back."""
    # The bench's own pool logs each reconnection refused during a restart, with a traceback: expected here.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
    seen = Outages()
    started = time.monotonic()
    for offset in at:
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
        seen.outages.append(await _restart(bench, cluster, web, team))
    return seen


async def fired_after_return(bench: Bench, seen: Outages) -> None:
    """Read how long after the database's return each delay that fell due while it was away was claimed."""
    async with bench.pool.acquire() as conn:
        for outage in seen.outages:
            ids, due = [i for i, _ in outage.due], [d for _, d in outage.due]
            seen.fired_after_return.extend(r[0] for r in await conn.fetch(_FIRED, ids, due, outage.back_at))


async def _restart(bench: Bench, cluster: Cluster, web: str, team: Crew) -> Outage:
    try:
        return await _watch_restart(bench, cluster, web, team)
    except TimeoutError as exc:  # the bench reads a TimeoutError as the scenario's own time limit
        raise RuntimeError(f"not back within {BACK_WITHIN_SECONDS:g} s after a restart: {exc}") from None


async def _watch_restart(bench: Bench, cluster: Cluster, web: str, team: Crew) -> Outage:
    async with bench.pool.acquire() as conn:
        due_soon = [(r["id"], r["wake_at"]) for r in await conn.fetch(_DUE_SOON)]
    answers: list[tuple[datetime, int, str | None]] = []
    async with aiohttp.ClientSession() as session:
        probe = asyncio.create_task(_probe(session, web, answers))
        down_at = datetime.now(UTC)
        await asyncio.to_thread(cluster.restart_immediately)
        outage = Outage(down_at, datetime.now(UTC))
        try:
            ok = await poll_until(lambda: _first_ok(answers, outage.back_at), "the API's 200", BACK_WITHIN_SECONDS)
            assert ok is not None
            outage.web_back = (ok - outage.back_at).total_seconds()
        finally:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await probe
    outage.away_answers = [(s, r) for t, s, r in answers if down_at <= t <= outage.back_at and s != 200]
    outage.due = [(i, d) for i, d in due_soon if down_at <= d <= outage.back_at]
    await poll_until(lambda: _heartbeats(bench, team, outage.back_at), "every worker's heartbeat", BACK_WITHIN_SECONDS)
    outage.workers_back = (datetime.now(UTC) - outage.back_at).total_seconds()
    await poll_until(lambda: _listen_back(bench, team, outage), "every LISTEN back", BACK_WITHIN_SECONDS)
    outage.listen_back = _listen_back(bench, team, outage) or 0.0
    return outage


def _first_ok(answers: list[tuple[datetime, int, str | None]], since: datetime) -> datetime | None:
    """When the API first answered 200 after `since`, if it has."""
    return next((t for t, s, _ in answers if s == 200 and t > since), None)


async def _probe(session: aiohttp.ClientSession, web: str, answers: list[tuple[datetime, int, str | None]]) -> None:
    """GET a page of executions over and over, noting each answer's status and Retry-After."""
    timeout = aiohttp.ClientTimeout(total=5)
    while True:
        try:
            async with session.get(f"{web}/executions?limit=1", timeout=timeout) as response:
                answers.append((datetime.now(UTC), response.status, response.headers.get("Retry-After")))
        except (aiohttp.ClientError, TimeoutError):
            answers.append((datetime.now(UTC), 0, None))  # the web process did not answer at all
        await asyncio.sleep(_PROBE_SECONDS)


async def _heartbeats(bench: Bench, team: Crew, since: datetime) -> bool:
    pids = [p.pid for p in team.running()]
    try:
        async with bench.pool.acquire() as conn:
            return bool(await conn.fetchval(_HEARTBEATS, pids, since) == len(pids))
    except DATABASE_DOWN:
        return False


def _listen_back(bench: Bench, team: Crew, outage: Outage) -> float | None:
    """Seconds from the database's return until the last worker logged its LISTEN connection back (below 0
    when a worker got in before pg_ctl saw the server ready); None while one has not. Read from the logs: the
    worker's own account, the one figure here not read from the database."""
    back = []
    for slot in range(team.size):
        log = bench.workdir / f"{bench.scenario}-worker{slot}.log"
        stamps = [
            stamp
            for line in map(_json, log.read_text(errors="replace").splitlines()[-5000:])
            if line.get("event") == "wake_channel_reconnected"
            and (stamp := datetime.fromisoformat(line["timestamp"])) > outage.down_at
        ]
        if not stamps:
            return None
        back.append(min(stamps))
    return (max(back) - outage.back_at).total_seconds()


def _json(line: str) -> dict[str, str]:
    with contextlib.suppress(ValueError):
        value = json.loads(line)
        if isinstance(value, dict):
            return value
    return {}
