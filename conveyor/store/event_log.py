"""The event log (`event_log`): every event, recorded once, and the match stage's locking read of new ones.

Matchers and parkers meet on one transaction-scoped advisory lock per event type: a matcher takes it
exclusively before it reads the waits, a parking wait takes it shared before it looks back. So an event and a
wait that commit at the same moment cannot pass each other: whichever takes the lock second sees the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.statement import Statement

# The first key of conveyor's event-type advisory locks (the second is the type's hash): "conv" in ASCII.
LOCK_SPACE = 0x636F6E76


@dataclass(frozen=True, slots=True)
class Event:
    """One recorded event."""

    id: int
    type: str
    payload: JSONObject
    created_at: datetime

    def document(self) -> JSONObject:
        """The event as a `match` rule sees it under `event`."""
        return {"id": self.id, "type": self.type, "payload": self.payload}


def event(row: asyncpg.Record) -> Event:
    """An Event from a row holding its columns."""
    return Event(row["id"], row["type"], row["payload"], row["created_at"])


_LOCK_UNMATCHED = Statement("""
WITH batch AS (
    SELECT id, type, payload, created_at FROM event_log
    WHERE matched_at IS NULL
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), locks AS (
    -- in hash order, so that matchers and parkers sharing types never deadlock
    SELECT pg_advisory_xact_lock(:lock_space, h)
    FROM (SELECT DISTINCT hashtext(type) AS h FROM batch ORDER BY h) AS types
)
SELECT id, type, payload, created_at FROM batch
WHERE (SELECT count(*) FROM locks) >= 0
ORDER BY id
""")


async def lock_unmatched(conn: Conn, limit: int) -> list[Event]:
    """Lock up to `limit` events no matcher has taken, oldest first, and their types for matching."""
    args = _LOCK_UNMATCHED.args(limit=limit, lock_space=LOCK_SPACE)
    return [event(r) for r in await conn.fetch(_LOCK_UNMATCHED.sql, *args)]


_LOCK_TYPES_SHARED = Statement("""
SELECT pg_advisory_xact_lock_shared(:lock_space, h)
FROM (SELECT DISTINCT hashtext(t) AS h FROM unnest(:types::text[]) AS t ORDER BY h) AS types
""")


async def lock_types_shared(conn: Conn, types: list[str]) -> None:
    """Hold these event types against matchers until the transaction ends."""
    await conn.execute(_LOCK_TYPES_SHARED.sql, *_LOCK_TYPES_SHARED.args(lock_space=LOCK_SPACE, types=types))
