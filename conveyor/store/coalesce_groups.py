"""Coalescing groups that are ripe: locked, read with their rows, and started as one execution each.

A batch is three statements whatever its size: `lock_ripe` (the ripe groups, `FOR UPDATE SKIP LOCKED`),
`read_groups` (their rows, triggers and workflows, under a snapshot taken after the locks, so every row that
joined a group before it was locked is read), and `start_groups` (the executions, the rows folded into them,
the groups deleted, the NOTIFY). A row consumed while its group is locked waits on that lock and then opens
the next group.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.concurrency import NO_SLOTS, Slots
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import insert_executions
from conveyor.store.statement import Statement

_LOCK_RIPE = Statement("""
SELECT trigger_id, key FROM coalesce_groups
WHERE due_at <= now()
ORDER BY due_at
LIMIT :limit
FOR UPDATE SKIP LOCKED
""")


async def lock_ripe(conn: Conn, limit: int) -> list[tuple[uuid.UUID, str]]:
    """Lock up to `limit` ripe groups, earliest due first, skipping groups other workers hold."""
    rows = await conn.fetch(_LOCK_RIPE.sql, *_LOCK_RIPE.args(limit=limit))
    return [(r["trigger_id"], r["key"]) for r in rows]


@dataclass(frozen=True, slots=True)
class RipeGroup:
    """A locked group with its rows (ids in arrival order), its trigger and workflow as they are now."""

    trigger_id: uuid.UUID
    key: str
    row_ids: list[int]
    first: JSONValue
    last: JSONValue
    # The first `max_payloads` payloads, in arrival order.
    head: list[JSONValue]
    trigger_version: int | None
    enabled: bool
    definition: str | None
    workflow_id: uuid.UUID | None
    workflow_version: int | None
    start_node: str | None
    caps: str | None


_READ = Statement("""
SELECT g.trigger_id, g.key, m.row_ids, m.first, m.last, m.head,
       t.version AS trigger_version, coalesce(t.enabled, false) AS enabled, t.definition::text AS definition,
       t.workflow_id, w.version AS workflow_version, w.definition->>'start' AS start_node,
       CASE WHEN w.definition ?| array['concurrency', 'limit']
            THEN jsonb_build_object('concurrency', w.definition->'concurrency', 'limit', w.definition->'limit')::text
       END AS caps
FROM unnest(:trigger_ids::uuid[], :keys::text[]) AS g(trigger_id, key)
CROSS JOIN LATERAL (
    SELECT array_agg(r.id ORDER BY r.id) AS row_ids,
           (array_agg(r.payload ORDER BY r.id) FILTER (WHERE r.n = 1))[1] AS first,
           (array_agg(r.payload ORDER BY r.id DESC))[1] AS last,
           coalesce(jsonb_agg(r.payload ORDER BY r.id) FILTER (WHERE r.n <= :max_payloads::int), '[]') AS head
    FROM (
        SELECT id, payload, row_number() OVER (ORDER BY id) AS n FROM trigger_events
        WHERE trigger_id = g.trigger_id AND coalesce_key = g.key AND outcome = 'coalesced' AND execution_id IS NULL
    ) r
) m
LEFT JOIN triggers t ON t.id = g.trigger_id
LEFT JOIN workflows w ON w.id = t.workflow_id
""")


async def read_groups(conn: Conn, groups: Sequence[tuple[uuid.UUID, str]], max_payloads: int) -> list[RipeGroup]:
    """The locked groups' rows, triggers and workflows, with at most `max_payloads` payloads of each group."""
    args = _READ.args(trigger_ids=[g[0] for g in groups], keys=[g[1] for g in groups], max_payloads=max_payloads)
    return [
        RipeGroup(**{**dict(r), "row_ids": list(r["row_ids"] or []), "head": list(r["head"])})
        for r in await conn.fetch(_READ.sql, *args)
    ]


@dataclass(frozen=True, slots=True)
class GroupStart:
    """What becomes of one ripe group: `started` (an execution with this input) or the outcome its rows take."""

    trigger_id: uuid.UUID
    key: str
    row_ids: list[int]
    outcome: str
    reason: str
    execution_id: uuid.UUID | None = None
    execution_key: str | None = None
    workflow_id: uuid.UUID | None = None
    workflow_version: int | None = None
    start_node: str | None = None
    input: JSONObject | None = None
    slots: Slots = NO_SLOTS


# The executions the batch starts.
_START_EXECUTIONS = insert_executions(
    "d.execution_id, d.workflow_id, d.workflow_version, :initial_state, d.start_node, d.input, NULL, NULL,"
    " d.trigger_id, d.execution_key, d.slot_key, d.slot_limit, d.total_limit, w.namespace, 0",
    "decided d JOIN workflows w ON w.id = d.workflow_id WHERE d.outcome = 'started'",
)
_START = Statement(f"""
WITH decided AS (
    SELECT * FROM unnest(:trigger_ids::uuid[], :keys::text[], :outcomes::text[], :reasons::text[],
                         :execution_ids::uuid[], :execution_keys::text[], :workflow_ids::uuid[],
                         :workflow_versions::integer[], :start_nodes::text[], :inputs::jsonb[], :slot_keys::text[],
                         :slot_limits::integer[], :total_limits::integer[]) WITH ORDINALITY
        AS d(trigger_id, key, outcome, reason, execution_id, execution_key, workflow_id, workflow_version,
             start_node, input, slot_key, slot_limit, total_limit, ordinal)
), members AS (
    SELECT * FROM unnest(:member_ids::bigint[], :member_groups::integer[]) AS m(row_id, ordinal)
), started AS (
    {_START_EXECUTIONS}
    ON CONFLICT (trigger_id, dedupe_key) WHERE trigger_id IS NOT NULL DO NOTHING
    RETURNING id
), placed AS (
    -- a start already made (by a run whose answer was lost) is found by its key, so no row is left unplaced
    SELECT d.ordinal, d.outcome, d.reason,
           coalesce(s.id, (SELECT x.id FROM executions x
                           WHERE x.trigger_id = d.trigger_id AND x.dedupe_key = d.execution_key)) AS placed_id
    FROM decided d LEFT JOIN started s ON s.id = d.execution_id
), folded AS (
    UPDATE trigger_events e
    SET execution_id = p.placed_id,
        outcome = CASE WHEN p.outcome = 'started' THEN 'coalesced' ELSE p.outcome END,
        reason = p.reason
    FROM members m JOIN placed p ON p.ordinal = m.ordinal
    WHERE e.id = m.row_id
    RETURNING e.id
), ended AS (
    -- no trigger row is touched here: the inbox stage locks triggers, then groups, in one statement
    DELETE FROM coalesce_groups g USING decided d WHERE g.trigger_id = d.trigger_id AND g.key = d.key
)
SELECT (SELECT count(*) FROM started) AS started, (SELECT count(*) FROM folded) AS folded,
       CASE WHEN (SELECT count(*) FROM started) > 0 THEN pg_notify('{WAKE_CHANNEL}', '') END AS notified
""")


async def start_groups(conn: Conn, initial_state: str, starts: Sequence[GroupStart]) -> tuple[int, int]:
    """Start the groups' executions, fold their rows in and end the groups; return (started, rows folded)."""
    args = _START.args(
        initial_state=initial_state,
        trigger_ids=[s.trigger_id for s in starts],
        keys=[s.key for s in starts],
        outcomes=[s.outcome for s in starts],
        reasons=[s.reason for s in starts],
        execution_ids=[s.execution_id for s in starts],
        execution_keys=[s.execution_key for s in starts],
        workflow_ids=[s.workflow_id for s in starts],
        workflow_versions=[s.workflow_version for s in starts],
        start_nodes=[s.start_node for s in starts],
        inputs=[s.input for s in starts],
        slot_keys=[s.slots.key for s in starts],
        slot_limits=[s.slots.key_limit for s in starts],
        total_limits=[s.slots.total_limit for s in starts],
        member_ids=[row_id for s in starts for row_id in s.row_ids],
        member_groups=[i for i, s in enumerate(starts, 1) for _ in s.row_ids],
    )
    row = await conn.fetchrow(_START.sql, *args)
    assert row is not None
    return int(row["started"]), int(row["folded"])
