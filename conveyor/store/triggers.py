"""Triggers as stored: the record with its health, and the operator's writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from conveyor.errors import ConflictError, NotFoundError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Trigger:
    """A trigger, its state, and its health as of the read."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    type: str
    definition: JSONObject
    enabled: bool
    version: int
    status: str
    last_fired_at: datetime | None
    next_run_at: datetime | None
    cursor: JSONValue
    last_error: str | None
    error_since: datetime | None
    skipped: int
    started_rows: int
    filtered_rows: int
    error_rows: int
    created_at: datetime
    updated_at: datetime
    pending: int
    lag_seconds: float | None
    held_seconds: float | None
    namespace: str


@dataclass(frozen=True, slots=True)
class TriggerWrite:
    """What a create or an update stores: the definition and what is indexed out of it."""

    type: str
    definition: JSONObject
    path: str | None
    event: str | None
    next_run_at: datetime | None
    cursor: JSONValue = None
    # A polling trigger whose source changed starts from `cursor`; otherwise it keeps the cursor it has.
    reset_cursor: bool = True


_SELECT = """
SELECT t.id, t.workflow_id, t.type, t.definition, t.enabled, t.version, t.status, t.last_fired_at,
       t.next_run_at, t.cursor, t.last_error, t.error_since, t.skipped, t.started_rows, t.filtered_rows,
       t.error_rows, t.created_at, t.updated_at, b.pending, b.lag_seconds,
       extract(epoch FROM now() - (t.cursor->>'held_since')::timestamptz)::float8 AS held_seconds, t.namespace
FROM triggers t
CROSS JOIN LATERAL (
    SELECT count(*) AS pending, extract(epoch FROM now() - min(e.created_at))::float8 AS lag_seconds
    FROM trigger_events e WHERE e.trigger_id = t.id AND e.consumed_at IS NULL
) b
"""
_GET = Statement(_SELECT + "WHERE t.id = :id")
_BY_PATH = Statement(_SELECT + "WHERE t.path = :path")
_LIST = Statement(
    _SELECT
    + """
WHERE t.namespace = :namespace AND (:workflow_id::uuid IS NULL OR t.workflow_id = :workflow_id)
  AND (:after_created::timestamptz IS NULL OR (t.created_at, t.id) > (:after_created, :after_id::uuid))
ORDER BY t.created_at, t.id
LIMIT :limit
"""
)


def _trigger(row: asyncpg.Record) -> Trigger:
    return Trigger(**dict(row))


async def get_trigger(conn: Conn, trigger_id: uuid.UUID) -> Trigger:
    """One trigger with its health."""
    row = await conn.fetchrow(_GET.sql, *_GET.args(id=trigger_id))
    if row is None:
        raise NotFoundError(f"trigger {trigger_id} not found", field="id", value=str(trigger_id))
    return _trigger(row)


async def get_trigger_by_path(conn: Conn, path: str) -> Trigger | None:
    """The trigger answering at this webhook path, if any."""
    row = await conn.fetchrow(_BY_PATH.sql, *_BY_PATH.args(path=path))
    return _trigger(row) if row else None


async def list_triggers(
    conn: Conn, namespace: str, workflow_id: uuid.UUID | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Trigger]:
    """A namespace's triggers in creation order, optionally of one workflow, after a (created_at, id) position."""
    args = _LIST.args(
        namespace=namespace,
        workflow_id=workflow_id,
        after_created=after[0] if after else None,
        after_id=after[1] if after else None,
        limit=limit,
    )
    return [_trigger(r) for r in await conn.fetch(_LIST.sql, *args)]


_INSERT = Statement("""
INSERT INTO triggers (id, workflow_id, namespace, type, definition, path, event, next_run_at, cursor)
SELECT :id, :workflow_id, namespace, :type, :definition, :path, :event, :next_run_at, :cursor
FROM workflows WHERE id = :workflow_id
""")


async def insert_trigger(conn: Conn, workflow_id: uuid.UUID, write: TriggerWrite) -> uuid.UUID:
    """Store a new, enabled trigger, in its workflow's namespace."""
    trigger_id = uuid.uuid4()
    args = _INSERT.args(
        id=trigger_id,
        workflow_id=workflow_id,
        type=write.type,
        definition=write.definition,
        path=write.path,
        event=write.event,
        next_run_at=write.next_run_at,
        cursor=write.cursor,
    )
    await _write(conn, _INSERT.sql, args, write)
    return trigger_id


_UPDATE = Statement("""
UPDATE triggers
SET type = :type, definition = :definition, path = :path, event = :event,
    cursor = CASE WHEN :reset_cursor THEN :cursor::jsonb ELSE cursor END,
    next_run_at = CASE WHEN enabled THEN :next_run_at::timestamptz END, version = version + 1,
    status = CASE WHEN enabled THEN 'ok' ELSE status END, error_since = NULL, updated_at = now()
WHERE id = :id
""")


async def update_trigger(conn: Conn, trigger_id: uuid.UUID, write: TriggerWrite) -> None:
    """Replace a trigger's definition as a new version; an enabled trigger starts afresh as ok."""
    args = _UPDATE.args(
        id=trigger_id,
        type=write.type,
        definition=write.definition,
        path=write.path,
        event=write.event,
        next_run_at=write.next_run_at,
        cursor=write.cursor,
        reset_cursor=write.reset_cursor,
    )
    if await _write(conn, _UPDATE.sql, args, write) == "UPDATE 0":
        raise NotFoundError(f"trigger {trigger_id} not found", field="id", value=str(trigger_id))


async def _write(conn: Conn, sql: str, args: list[JSONValue], write: TriggerWrite) -> str:
    try:
        status: str = await conn.execute(sql, *args)
    except asyncpg.UniqueViolationError as exc:
        raise ConflictError(
            f"another trigger already answers at /hooks/{write.path}", field="/path", value=write.path
        ) from exc
    return status


_SET_ENABLED = Statement("""
UPDATE triggers
SET enabled = :enabled, status = CASE WHEN :enabled THEN 'ok' ELSE 'disabled' END, error_since = NULL,
    next_run_at = :next_run_at, updated_at = now()
WHERE id = :id
""")


async def set_enabled(conn: Conn, trigger_id: uuid.UUID, enabled: bool, next_run_at: datetime | None) -> None:
    """Enable a trigger (as ok, due next at `next_run_at`) or disable it."""
    args = _SET_ENABLED.args(id=trigger_id, enabled=enabled, next_run_at=next_run_at)
    if await conn.execute(_SET_ENABLED.sql, *args) == "UPDATE 0":
        raise NotFoundError(f"trigger {trigger_id} not found", field="id", value=str(trigger_id))


_DELETE = Statement("DELETE FROM triggers WHERE id = :id")


async def delete_trigger(conn: Conn, trigger_id: uuid.UUID) -> None:
    """Delete a trigger; its rows still in the inbox are consumed as 'disabled'."""
    if await conn.execute(_DELETE.sql, *_DELETE.args(id=trigger_id)) == "DELETE 0":
        raise NotFoundError(f"trigger {trigger_id} not found", field="id", value=str(trigger_id))


async def wake_workers(conn: Conn) -> None:
    """Have the workers look again (on commit): a trigger's next due time may now be the nearest."""
    await conn.execute(f"SELECT pg_notify('{WAKE_CHANNEL}', '')")


async def database_now(conn: Conn) -> datetime:
    """The database's clock, the only one that decides when something is due."""
    now: datetime = await conn.fetchval("SELECT now()")
    return now


_LAGS = """
SELECT trigger_id, extract(epoch FROM now() - min(created_at))::float8 AS lag_seconds
FROM trigger_events WHERE consumed_at IS NULL AND trigger_id IS NOT NULL
GROUP BY trigger_id
"""


async def pending_lags(conn: Conn) -> dict[uuid.UUID, float]:
    """The age of the oldest unconsumed row, per trigger that has any."""
    return {r["trigger_id"]: r["lag_seconds"] for r in await conn.fetch(_LAGS)}
