"""Send throttles: one row per throttled key holding the next free send time, and each step's granted slot.

Taking a slot is one statement: the key's row moves its next free time on by one interval (evenly spaced
sends, across every worker), and the step's grant records the slot it got, so the step, woken at its slot,
finds its grant and does not take a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Slot:
    """When a step may send, and how long that is from now (zero or less: now)."""

    at: datetime
    wait_seconds: float


_TAKE = Statement("""
WITH granted AS (
    SELECT slot_at FROM throttle_grants WHERE step_key = :step_key
), bucket AS (
    INSERT INTO throttles AS t (key, next_at)
    SELECT :key, now() + make_interval(secs => :interval_seconds)
    WHERE NOT EXISTS (SELECT 1 FROM granted)
    ON CONFLICT (key) DO UPDATE SET next_at = greatest(t.next_at, now()) + make_interval(secs => :interval_seconds)
    RETURNING t.next_at - make_interval(secs => :interval_seconds) AS slot_at
), grant_slot AS (
    INSERT INTO throttle_grants (step_key, key, slot_at) SELECT :step_key, :key, slot_at FROM bucket
    ON CONFLICT (step_key) DO NOTHING
    RETURNING slot_at
)
SELECT s.at, extract(epoch FROM s.at - clock_timestamp())::float8 AS wait_seconds
FROM (SELECT coalesce((SELECT slot_at FROM granted), (SELECT slot_at FROM bucket)) AS at) s
""")


async def take_slot(conn: Conn, key: str, interval_seconds: float, step_key: str) -> Slot:
    """The step's slot under `key`'s rate: the one granted before, or the next free one, taken now."""
    args = _TAKE.args(key=key, interval_seconds=interval_seconds, step_key=step_key)
    row = await conn.fetchrow(_TAKE.sql, *args)
    assert row is not None
    return Slot(row["at"], float(row["wait_seconds"]))


_RELEASE = Statement("DELETE FROM throttle_grants WHERE step_key = :step_key")


async def release_slot(conn: Conn, step_key: str) -> None:
    """Forget the step's grant once it sent (or failed to): a retry takes a slot of its own."""
    await conn.execute(_RELEASE.sql, *_RELEASE.args(step_key=step_key))
