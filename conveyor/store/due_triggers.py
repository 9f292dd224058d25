"""Triggers that come due on a clock: schedules to fire and polls to run, claimed by the workers."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class DueTrigger:
    """A clock-driven trigger whose time has come, locked, with the database's now and how often it fired."""

    id: uuid.UUID
    version: int
    definition: str
    next_run_at: datetime
    now: datetime
    fired: int


_LOCK_DUE = Statement("""
SELECT id, version, definition::text AS definition, next_run_at, now() AS now,
       coalesce((cursor->>'fired')::bigint, 0) AS fired
FROM triggers
WHERE next_run_at IS NOT NULL AND enabled AND next_run_at <= now() AND type = ANY(:types::text[])
ORDER BY next_run_at
LIMIT :limit
FOR UPDATE SKIP LOCKED
""")


async def lock_due_triggers(conn: Conn, types: Sequence[str], limit: int) -> list[DueTrigger]:
    """Lock up to `limit` due triggers of these types, skipping those other workers hold."""
    rows = await conn.fetch(_LOCK_DUE.sql, *_LOCK_DUE.args(types=list(types), limit=limit))
    return [DueTrigger(**dict(r)) for r in rows]


@dataclass(frozen=True, slots=True)
class Advance:
    """Where a due trigger goes next: its next due time, ticks skipped, or the error that stopped it; ticks fired."""

    trigger_id: uuid.UUID
    next_run_at: datetime | None
    skipped: int
    error: str | None
    fired: int = 0


_FIRE = Statement("""
WITH fired AS (
    INSERT INTO trigger_events (trigger_id, type, payload, dedupe_key)
    SELECT * FROM unnest(:row_triggers::uuid[], :row_types::text[], :row_payloads::jsonb[], :row_keys::text[])
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
    RETURNING id
), advanced AS (
    UPDATE triggers t
    SET next_run_at = a.next_run_at, skipped = t.skipped + a.skipped, updated_at = now(),
        status = CASE WHEN a.error IS NULL THEN t.status ELSE 'error' END,
        last_error = coalesce(a.error, t.last_error),
        error_since = CASE WHEN a.error IS NULL THEN t.error_since ELSE coalesce(t.error_since, now()) END,
        cursor = CASE WHEN a.fired = 0 THEN t.cursor
                      ELSE jsonb_build_object('fired', coalesce((t.cursor->>'fired')::bigint, 0) + a.fired) END
    FROM unnest(:ids::uuid[], :next_runs::timestamptz[], :skipped::bigint[], :errors::text[], :fired::bigint[])
        AS a(id, next_run_at, skipped, error, fired)
    WHERE t.id = a.id
)
SELECT count(*) FROM fired
""")


async def fire_ticks(
    conn: Conn, rows: Sequence[tuple[uuid.UUID, str, JSONObject, str]], advances: Sequence[Advance]
) -> int:
    """Write tick rows (a tick already written is skipped) and move the triggers on; return rows written."""
    args = _FIRE.args(
        row_triggers=[r[0] for r in rows],
        row_types=[r[1] for r in rows],
        row_payloads=[r[2] for r in rows],
        row_keys=[r[3] for r in rows],
        ids=[a.trigger_id for a in advances],
        next_runs=[a.next_run_at for a in advances],
        skipped=[a.skipped for a in advances],
        errors=[a.error for a in advances],
        fired=[a.fired for a in advances],
    )
    written: int = await conn.fetchval(_FIRE.sql, *args)
    return written


_NEXT_RUN = """
SELECT extract(epoch FROM least(
    (SELECT min(next_run_at) FROM triggers WHERE next_run_at IS NOT NULL AND enabled),
    (SELECT min(due_at) FROM coalesce_groups)) - now())::float8
"""


async def seconds_until_next_run(conn: Conn) -> float | None:
    """How long until the next clock-driven trigger is due or coalescing group ripe, by the database's clock."""
    value: float | None = await conn.fetchval(_NEXT_RUN)
    return value


@dataclass(frozen=True, slots=True)
class ClaimedPoll:
    """A due poll trigger taken by a worker until `claimed_until`, with its cursor and health."""

    id: uuid.UUID
    version: int
    definition: str
    cursor: JSONValue
    claimed_until: datetime
    status: str
    error_since: datetime | None
    now: datetime


_CLAIM_POLLS = Statement("""
WITH due AS (
    SELECT id FROM triggers
    WHERE next_run_at IS NOT NULL AND enabled AND next_run_at <= now() AND type = ANY(:types::text[])
    ORDER BY next_run_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
UPDATE triggers t SET next_run_at = now() + make_interval(secs => :lease_seconds)
FROM due WHERE t.id = due.id
RETURNING t.id, t.version, t.definition::text AS definition, t.cursor, t.next_run_at AS claimed_until, t.status,
          t.error_since, now() AS now
""")


async def claim_due_polls(conn: Conn, types: Sequence[str], limit: int, lease_seconds: float) -> list[ClaimedPoll]:
    """Take up to `limit` due triggers of these types for `lease_seconds`: no other worker polls them meanwhile."""
    args = _CLAIM_POLLS.args(types=list(types), limit=limit, lease_seconds=lease_seconds)
    return [ClaimedPoll(**dict(r)) for r in await conn.fetch(_CLAIM_POLLS.sql, *args)]


@dataclass(frozen=True, slots=True)
class PollResult:
    """What a poll leaves: rows to write, the cursor to store with them, when to poll next, or its error."""

    rows: Sequence[tuple[str, JSONObject]]
    cursor: JSONValue
    next_in_seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PollRecorded:
    """Whether the claim still held (else nothing was written), rows written, and the status before and after."""

    held: bool
    written: int
    was: str | None
    status: str | None


_FINISH_POLL = Statement("""
WITH before AS (
    SELECT status FROM triggers WHERE id = :id
), advanced AS (
    UPDATE triggers
    SET cursor = CASE WHEN :error::text IS NULL THEN :cursor::jsonb ELSE cursor END,
        next_run_at = now() + make_interval(secs => :next_in_seconds),
        status = CASE WHEN :error::text IS NULL THEN 'ok' ELSE 'error' END,
        last_error = coalesce(:error::text, last_error),
        error_since = CASE WHEN :error::text IS NULL THEN NULL ELSE coalesce(error_since, now()) END,
        updated_at = now()
    WHERE id = :id AND version = :version AND next_run_at = :claimed_until AND enabled
    RETURNING id, status
), fired AS (
    INSERT INTO trigger_events (trigger_id, type, payload, dedupe_key)
    SELECT a.id, :type::text, r.payload, r.key
    FROM advanced a, unnest(:payloads::jsonb[], :keys::text[]) AS r(payload, key)
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
    RETURNING id
)
SELECT (SELECT status FROM before) AS was, (SELECT status FROM advanced) AS status,
       (SELECT count(*) FROM fired) AS written
""")


async def record_poll(conn: Conn, claimed: ClaimedPoll, type_: str, result: PollResult) -> PollRecorded:
    """Write a poll's rows and move its cursor together, only if the claim still holds (one statement)."""
    args = _FINISH_POLL.args(
        id=claimed.id,
        version=claimed.version,
        claimed_until=claimed.claimed_until,
        cursor=result.cursor,
        next_in_seconds=result.next_in_seconds,
        error=result.error,
        type=type_,
        payloads=[payload for _, payload in result.rows],
        keys=[key for key, _ in result.rows],
    )
    row = await conn.fetchrow(_FINISH_POLL.sql, *args)
    assert row is not None
    return PollRecorded(row["status"] is not None, int(row["written"]), row["was"], row["status"])
