"""Retention: finished executions and their rows, and old inbox and event rows, deleted in bounded batches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.jsonvalue import JSONValue
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class VersionRetention:
    """A workflow version's own `retention`, as its definition writes it."""

    workflow_id: uuid.UUID
    version: int
    retention: JSONValue


@dataclass(frozen=True, slots=True)
class Override:
    """The retention, in seconds, of one workflow version's finished executions."""

    workflow_id: uuid.UUID
    version: int
    seconds: float


@dataclass(frozen=True, slots=True)
class DeletedExecutions:
    """What one batch deleted; `roots` is how many top-level executions it took, to tell a full batch."""

    roots: int
    executions: int
    email_logs: int
    webhook_logs: int
    trigger_events: int


@dataclass(frozen=True, slots=True)
class DeletedRows:
    """Old inbox rows and events one batch deleted."""

    trigger_events: int
    events: int


_OVERRIDES = """
SELECT workflow_id, version, definition -> 'retention' AS retention
FROM workflow_versions WHERE definition ? 'retention'
"""


async def version_retentions(conn: Conn) -> list[VersionRetention]:
    """Every workflow version whose definition sets its own retention."""
    rows = await conn.fetch(_OVERRIDES)
    return [VersionRetention(r["workflow_id"], r["version"], r["retention"]) for r in rows]


# Roots are top-level executions: a child goes with its parent, never alone. The roots are locked with SKIP
# LOCKED, so a batch never waits on a worker; the oldest finished come first (executions_finished_idx), and
# the lower bound `:min_seconds` (the shortest retention in force) keeps that scan to rows that may be due.
_DELETE_FINISHED = Statement("""
WITH RECURSIVE overrides AS (
    SELECT * FROM unnest(:workflow_ids::uuid[], :versions::integer[], :seconds::float8[])
        AS o(workflow_id, version, seconds)
), roots AS MATERIALIZED (
    SELECT e.id FROM executions e
    LEFT JOIN overrides o ON o.workflow_id = e.workflow_id AND o.version = e.workflow_version
    WHERE e.parent_id IS NULL AND e.finished_at IS NOT NULL
      AND e.finished_at < now() - make_interval(secs => :min_seconds)
      AND e.finished_at < now() - make_interval(secs => coalesce(o.seconds, :default_seconds))
      AND e.state = ANY (:terminal_states::text[])
      AND NOT EXISTS (SELECT 1 FROM executions c WHERE c.parent_id = e.id AND c.state <> ALL (:terminal_states::text[]))
    ORDER BY e.finished_at
    LIMIT :batch_size
    FOR UPDATE OF e SKIP LOCKED
), tree AS (
    SELECT id, id AS root FROM roots
    UNION ALL
    SELECT c.id, t.root FROM executions c JOIN tree t ON c.parent_id = t.id
), doomed AS MATERIALIZED (
    -- a tree with a descendant still running stays whole until it has finished
    SELECT t.id FROM tree t
    WHERE NOT EXISTS (
        SELECT 1 FROM tree u JOIN executions x ON x.id = u.id
        WHERE u.root = t.root AND x.state <> ALL (:terminal_states::text[])
    )
), emails AS (
    DELETE FROM email_logs WHERE execution_id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
), webhooks AS (
    DELETE FROM webhook_logs WHERE execution_id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
), inbox AS (
    DELETE FROM trigger_events WHERE execution_id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
), gone AS (
    -- execution_history, execution_steps and event_waits go by ON DELETE CASCADE
    DELETE FROM executions WHERE id = ANY (ARRAY(SELECT id FROM doomed)) RETURNING 1
)
SELECT (SELECT count(*) FROM roots) AS roots, (SELECT count(*) FROM gone) AS executions,
       (SELECT count(*) FROM emails) AS email_logs, (SELECT count(*) FROM webhooks) AS webhook_logs,
       (SELECT count(*) FROM inbox) AS trigger_events
""")


async def delete_finished(
    conn: Conn, default_seconds: float | None, overrides: Sequence[Override], batch_size: int
) -> DeletedExecutions:
    """Delete up to `batch_size` finished top-level executions past their retention, with every row of theirs."""
    shortest = min([o.seconds for o in overrides] + ([default_seconds] if default_seconds is not None else []))
    args = _DELETE_FINISHED.args(
        workflow_ids=[o.workflow_id for o in overrides],
        versions=[o.version for o in overrides],
        seconds=[o.seconds for o in overrides],
        min_seconds=shortest,
        default_seconds=default_seconds,
        terminal_states=sorted(TERMINAL_STATES),
        batch_size=batch_size,
    )
    row = await conn.fetchrow(_DELETE_FINISHED.sql, *args)
    assert row is not None
    return DeletedExecutions(**dict(row))


# Inbox rows whose execution is gone, or that started none, and events the match stage has taken; by id, which
# follows age, each side bounded by the batch and skipping rows a worker holds.
_DELETE_OLD_ROWS = Statement("""
WITH old_inbox AS (
    SELECT t.ctid FROM trigger_events t
    WHERE t.consumed_at < now() - make_interval(secs => :retention_seconds)
      AND (t.execution_id IS NULL OR NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = t.execution_id))
      -- a row waiting in a coalescing group is not done with, however old
      AND NOT (t.outcome = 'coalesced' AND t.execution_id IS NULL)
    ORDER BY t.id
    LIMIT :batch_size
    FOR UPDATE OF t SKIP LOCKED
), old_events AS (
    SELECT ev.ctid FROM event_log ev
    WHERE ev.matched_at IS NOT NULL AND ev.created_at < now() - make_interval(secs => :retention_seconds)
    ORDER BY ev.id
    LIMIT :batch_size
    FOR UPDATE OF ev SKIP LOCKED
), inbox AS (
    DELETE FROM trigger_events WHERE ctid = ANY (ARRAY(SELECT ctid FROM old_inbox)) RETURNING 1
), events AS (
    DELETE FROM event_log WHERE ctid = ANY (ARRAY(SELECT ctid FROM old_events)) RETURNING 1
)
SELECT (SELECT count(*) FROM inbox) AS trigger_events, (SELECT count(*) FROM events) AS events
""")


async def delete_old_rows(conn: Conn, retention_seconds: float, batch_size: int) -> DeletedRows:
    """Delete up to `batch_size` consumed inbox rows and matched events older than the retention."""
    args = _DELETE_OLD_ROWS.args(retention_seconds=retention_seconds, batch_size=batch_size)
    row = await conn.fetchrow(_DELETE_OLD_ROWS.sql, *args)
    assert row is not None
    return DeletedRows(**dict(row))
