"""Recovery: releasing executions held by workers that are gone, and the backlog figures operators watch."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.statemachines import RUNNING
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.claims import DUE
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Released:
    """An execution handed back to the workers, and who held it."""

    id: uuid.UUID
    state: str
    lease_owner: str


# Held by a worker that stopped, fell silent, or never registered, or past its lease's end: due now. The
# owner stays, so the claim's history names it; the version bump fences out a worker that comes back.
_RELEASE = Statement(f"""
WITH released AS (
    UPDATE executions e
    SET wake_at = least(e.wake_at, now()), version = e.version + 1, updated_at = now()
    WHERE e.state = '{RUNNING}' AND e.lease_owner IS NOT NULL
      AND (:worker::text IS NULL OR e.lease_owner = :worker)
      AND (e.wake_at <= now() OR NOT EXISTS (
          SELECT 1 FROM workers w
          WHERE w.id = e.lease_owner AND w.stopped_at IS NULL
            AND w.heartbeat_at > now() - make_interval(secs => :silent_seconds)))
    RETURNING e.id, e.state, e.lease_owner
), notified AS (
    SELECT pg_notify('{WAKE_CHANNEL}', '') FROM released LIMIT 1
)
SELECT id, state, lease_owner, (SELECT count(*) FROM notified) FROM released
""")


async def release_abandoned(conn: Conn, silent_seconds: float, worker: str | None = None) -> list[Released]:
    """Make due now every execution whose worker is gone (silent for `silent_seconds`) or whose lease lapsed."""
    rows = await conn.fetch(_RELEASE.sql, *_RELEASE.args(worker=worker, silent_seconds=silent_seconds))
    return [Released(r["id"], r["state"], r["lease_owner"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Backlog:
    """How far behind the workers are, and what waits in the trigger inbox."""

    lapsed_leases: int
    overdue: int  # due and unclaimed for longer than the grace given
    worst_lateness_seconds: float  # since the oldest due wake-up nobody has claimed; 0 when none
    pending_events: int
    oldest_pending_event_at: datetime | None


# Each count reads an index: the due index (its predicate, word for word) or the inbox's pending index.
_BACKLOG = Statement(f"""
SELECT
    (SELECT count(*) FROM executions
     WHERE state = '{RUNNING}' AND lease_owner IS NOT NULL AND wake_at <= now()) AS lapsed_leases,
    (SELECT count(*) FROM executions
     WHERE {DUE} AND wake_at < now() - make_interval(secs => :grace_seconds)) AS overdue,
    coalesce((SELECT extract(epoch FROM now() - min(wake_at))::float8 FROM executions
              WHERE {DUE} AND wake_at <= now()), 0) AS worst_lateness_seconds,
    (SELECT count(*) FROM trigger_events WHERE consumed_at IS NULL) AS pending_events,
    (SELECT created_at FROM trigger_events WHERE consumed_at IS NULL ORDER BY id LIMIT 1) AS oldest_pending_event_at
""")


async def backlog(conn: Conn, grace_seconds: float) -> Backlog:
    """The backlog now, by the database's clock."""
    row = await conn.fetchrow(_BACKLOG.sql, *_BACKLOG.args(grace_seconds=grace_seconds))
    assert row is not None
    return Backlog(**dict(row))


@dataclass(frozen=True, slots=True)
class LiveWorker:
    """A worker that has not stopped and beat recently, with the executions it holds."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    in_flight: int


_LIVE_WORKERS = Statement(f"""
SELECT w.id, w.hostname, w.pid, w.started_at, w.heartbeat_at, count(e.id) AS in_flight
FROM workers w
LEFT JOIN executions e ON e.lease_owner = w.id AND e.state = '{RUNNING}'
WHERE w.stopped_at IS NULL AND w.heartbeat_at > now() - make_interval(secs => :silent_seconds)
GROUP BY w.id
ORDER BY w.id
""")


async def live_workers(conn: Conn, silent_seconds: float) -> list[LiveWorker]:
    """Workers alive by their heartbeat, each with its in-flight count."""
    return [
        LiveWorker(**dict(r))
        for r in await conn.fetch(_LIVE_WORKERS.sql, *_LIVE_WORKERS.args(silent_seconds=silent_seconds))
    ]


_COUNTS = """
SELECT w.name AS workflow, e.state, count(*) AS n
FROM executions e JOIN workflows w ON w.id = e.workflow_id
GROUP BY 1, 2
"""


async def count_by_workflow_and_state(conn: Conn) -> dict[tuple[str, str], int]:
    """Executions per (workflow name, state): one scan, for statistics and a cached metric."""
    return {(r["workflow"], r["state"]): r["n"] for r in await conn.fetch(_COUNTS)}
