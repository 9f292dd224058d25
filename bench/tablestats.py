"""What a run costs the storage: WAL bytes written, and how the executions table's updates were made (HOT or not)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from conveyor.store import Pool

# Stats of a backend that has just exited reach the shared counters a moment later: read until two agree.
_SETTLE_INTERVAL_SECONDS = 0.25
_SETTLE_ATTEMPTS = 20

_READ = """
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS wal, coalesce(s.n_tup_upd, 0) AS updates,
       coalesce(s.n_tup_hot_upd, 0) AS hot_updates, coalesce(s.n_dead_tup, 0) AS dead_tuples
FROM (SELECT 1) AS one LEFT JOIN pg_stat_user_tables s ON s.relid = 'executions'::regclass
"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The WAL position and the executions table's update counters at one moment."""

    wal: int  # bytes since the start of the WAL
    updates: int
    hot_updates: int
    dead_tuples: int


@dataclass(frozen=True, slots=True)
class Delta:
    """What happened between two snapshots; `dead_tuples` is the count at the end, not a difference."""

    wal_bytes: int
    updates: int
    hot_updates: int
    dead_tuples: int

    @property
    def hot_ratio(self) -> float:
        """The share of updates that were HOT (no index entry written); NaN without updates."""
        return self.hot_updates / self.updates if self.updates else float("nan")


async def snapshot(pool: Pool) -> Snapshot:
    """Read the counters now (this backend's own pending stats flushed first)."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        row = await conn.fetchrow(_READ)
    assert row is not None
    return Snapshot(row["wal"], row["updates"], row["hot_updates"], row["dead_tuples"])


async def settled(pool: Pool) -> Snapshot:
    """A snapshot once the counters have stopped moving (call after the writers have stopped)."""
    last = await snapshot(pool)
    for _ in range(_SETTLE_ATTEMPTS):
        await asyncio.sleep(_SETTLE_INTERVAL_SECONDS)
        now = await snapshot(pool)
        if (now.updates, now.hot_updates) == (last.updates, last.hot_updates):
            return now
        last = now
    return last


def delta(before: Snapshot, after: Snapshot) -> Delta:
    """The WAL bytes and update counts from `before` to `after`."""
    return Delta(
        wal_bytes=after.wal - before.wal,
        updates=after.updates - before.updates,
        hot_updates=after.hot_updates - before.hot_updates,
        dead_tuples=after.dead_tuples,
    )
