"""The inbox (`trigger_events`): rows written by the API, webhooks and schedules, and their consumption.

Consuming a batch is two statements whatever its size: `lock_pending` (a locking read joined to the
triggers and workflows) and `consume` (one statement of data-modifying CTEs: the executions, the outcomes,
the rows fanned out to event triggers, the coalescing groups opened or extended, the events recorded for
waits, the triggers' counters and health, and the NOTIFY).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.concurrency import NO_SLOTS, Slots
from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.executions import insert_executions
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A locked inbox row, paired with one trigger it goes to (none: deleted, or no event trigger matches)."""

    id: int
    type: str
    broadcast: bool
    payload: str
    dedupe_key: str | None
    trigger_id: uuid.UUID | None
    trigger_version: int | None
    enabled: bool
    definition: str | None
    workflow_id: uuid.UUID | None
    workflow_version: int | None
    start_node: str | None
    # The workflow's concurrency caps as JSON (`concurrency`, `limit`), when it declares any.
    caps: str | None


_LOCK_PENDING = Statement("""
WITH pending AS (
    SELECT id, trigger_id, type, payload, dedupe_key, namespace
    FROM trigger_events
    WHERE consumed_at IS NULL
    ORDER BY id
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
)
SELECT p.id, p.type, p.trigger_id IS NULL AS broadcast, p.payload::text AS payload, p.dedupe_key,
       t.id AS trigger_id, t.version AS trigger_version, coalesce(t.enabled, false) AS enabled,
       t.definition::text AS definition, t.workflow_id, w.version AS workflow_version,
       w.definition->>'start' AS start_node,
       CASE WHEN w.definition ?| array['concurrency', 'limit']
            THEN jsonb_build_object('concurrency', w.definition->'concurrency', 'limit', w.definition->'limit')::text
       END AS caps
FROM pending p
LEFT JOIN LATERAL (
    SELECT id, version, enabled, definition, workflow_id FROM triggers WHERE id = p.trigger_id
    UNION ALL
    SELECT id, version, enabled, definition, workflow_id FROM triggers
    WHERE p.trigger_id IS NULL AND event = p.type AND namespace = p.namespace
) t ON true
LEFT JOIN workflows w ON w.id = t.workflow_id
ORDER BY p.id, t.id
""")


async def lock_pending(conn: Conn, limit: int) -> list[PendingRow]:
    """Lock up to `limit` unconsumed rows, oldest first, skipping rows other workers hold; one per trigger."""
    return [PendingRow(**dict(r)) for r in await conn.fetch(_LOCK_PENDING.sql, *_LOCK_PENDING.args(limit=limit))]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What becomes of one (row, trigger) pair; `fanned_out` pairs are stored as rows of their own."""

    row_id: int
    trigger_id: uuid.UUID | None
    fanned_out: bool
    outcome: str
    reason: str | None = None
    execution_id: uuid.UUID | None = None
    execution_key: str | None = None
    workflow_id: uuid.UUID | None = None
    workflow_version: int | None = None
    start_node: str | None = None
    slots: Slots = NO_SLOTS
    # For a `coalesced` row: its group's key, and the trigger's quiet period and longest wait in seconds.
    coalesce_key: str | None = None
    quiet: float | None = None
    max_wait: float | None = None


@dataclass(frozen=True, slots=True)
class Consumed:
    """What a batch did: rows per (trigger, outcome), executions started, triggers whose status changed."""

    outcomes: list[tuple[uuid.UUID | None, str, int]]
    started: int
    status_changes: list[tuple[uuid.UUID, str, str, str | None]]


# The executions the batch starts.
_START_EXECUTIONS = insert_executions(
    "v.execution_id, v.workflow_id, v.workflow_version, :initial_state, v.start_node, e.payload, NULL, NULL,"
    " v.trigger_id, v.key, v.slot_key, v.slot_limit, v.total_limit, w.namespace, 0",
    "verdict v JOIN trigger_events e ON e.id = v.row_id JOIN workflows w ON w.id = v.workflow_id"
    " WHERE v.outcome = 'started'",
)
_CONSUME = Statement(f"""
WITH verdict AS (
    SELECT * FROM unnest(:row_ids::bigint[], :trigger_ids::uuid[], :fanned_out::boolean[], :outcomes::text[],
                         :reasons::text[], :execution_ids::uuid[], :keys::text[], :workflow_ids::uuid[],
                         :workflow_versions::integer[], :start_nodes::text[], :slot_keys::text[],
                         :slot_limits::integer[], :total_limits::integer[], :coalesce_keys::text[],
                         :quiets::float8[], :max_waits::float8[])
        AS v(row_id, trigger_id, fanned_out, outcome, reason, execution_id, key, workflow_id, workflow_version,
             start_node, slot_key, slot_limit, total_limit, coalesce_key, quiet, max_wait)
), fan AS (
    -- a fanned-out row whose dedupe key this trigger already has is a repeat: a row, but not a second start
    SELECT v.row_id, v.trigger_id,
           e.dedupe_key IS NOT NULL AND (
               row_number() OVER (PARTITION BY v.trigger_id, e.dedupe_key ORDER BY v.row_id) > 1
               OR EXISTS (SELECT 1 FROM trigger_events x
                          WHERE x.trigger_id = v.trigger_id AND x.dedupe_key = e.dedupe_key)) AS repeat
    FROM verdict v JOIN trigger_events e ON e.id = v.row_id
    WHERE v.fanned_out
), started AS (
    {_START_EXECUTIONS}
    ON CONFLICT (trigger_id, dedupe_key) WHERE trigger_id IS NOT NULL DO NOTHING
    RETURNING id
), final AS (
    SELECT v.row_id, v.trigger_id, v.fanned_out, v.reason, s.id AS execution_id, coalesce(r.repeat, false) AS repeat,
           CASE WHEN v.outcome = 'started' AND s.id IS NULL THEN 'duplicate'
                WHEN v.outcome = 'coalesced' AND r.repeat THEN 'duplicate' ELSE v.outcome END AS outcome,
           v.coalesce_key, v.quiet, v.max_wait
    FROM verdict v LEFT JOIN started s ON s.id = v.execution_id
    LEFT JOIN fan r ON r.row_id = v.row_id AND r.trigger_id = v.trigger_id
), consumed AS (
    UPDATE trigger_events e
    SET consumed_at = now(), outcome = f.outcome, reason = f.reason, execution_id = f.execution_id,
        coalesce_key = CASE WHEN f.outcome = 'coalesced' THEN f.coalesce_key END
    FROM final f
    WHERE e.id = f.row_id AND NOT f.fanned_out
), grouped AS (
    -- the coalesced rows open their groups or extend them; in key order, so concurrent batches never deadlock
    INSERT INTO coalesce_groups AS g (trigger_id, key, first_at, last_at, quiet, max_wait, due_at)
    SELECT m.trigger_id, m.coalesce_key, m.first_at, m.last_at, m.quiet, m.max_wait,
           least(m.first_at + m.max_wait, m.last_at + m.quiet)
    FROM (
        SELECT f.trigger_id, f.coalesce_key, min(e.created_at) AS first_at, max(e.created_at) AS last_at,
               make_interval(secs => min(f.quiet)) AS quiet, make_interval(secs => min(f.max_wait)) AS max_wait
        FROM final f JOIN trigger_events e ON e.id = f.row_id
        WHERE f.outcome = 'coalesced'
        GROUP BY f.trigger_id, f.coalesce_key
    ) m
    ORDER BY m.trigger_id, m.coalesce_key
    ON CONFLICT (trigger_id, key) DO UPDATE
    SET first_at = least(g.first_at, excluded.first_at), last_at = greatest(g.last_at, excluded.last_at),
        due_at = least(least(g.first_at, excluded.first_at) + g.max_wait,
                       greatest(g.last_at, excluded.last_at) + g.quiet)
), recorded AS (
    -- an application's event (a row without trigger_id), recorded once for waits whether or not a trigger takes it
    INSERT INTO event_log (namespace, type, payload, dedupe_key, created_at)
    -- joined from the batch's own rows: as `id IN (verdict)` on a fresh inbox's stale statistics, the planner
    -- scanned every row without a trigger once per row of the batch (1-2 s a batch of 1,000 instead of ms)
    SELECT e.namespace, e.type, e.payload, e.dedupe_key, e.created_at
    FROM (SELECT DISTINCT row_id FROM verdict) v JOIN trigger_events e ON e.id = v.row_id
    WHERE e.trigger_id IS NULL AND e.event_id IS NULL
    ORDER BY e.id
    ON CONFLICT (namespace, type, dedupe_key) DO NOTHING
), fanned AS (
    INSERT INTO trigger_events (trigger_id, namespace, type, payload, dedupe_key, created_at, consumed_at, outcome,
                                reason, execution_id, coalesce_key)
    -- a key this trigger already has is still a row (the key moves to its reason): nothing vanishes
    SELECT f.trigger_id, e.namespace, e.type, e.payload, CASE WHEN f.repeat THEN NULL ELSE e.dedupe_key END,
           e.created_at, now(),
           f.outcome, CASE WHEN f.repeat THEN concat_ws('; ', f.reason, 'dedupe key already received: ' || e.dedupe_key)
                           ELSE f.reason END, f.execution_id,
           CASE WHEN f.outcome = 'coalesced' THEN f.coalesce_key END
    FROM final f JOIN trigger_events e ON e.id = f.row_id
    WHERE f.fanned_out
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
), tally AS (
    SELECT trigger_id,
           count(*) FILTER (WHERE outcome = 'started') AS started,
           count(*) FILTER (WHERE outcome = 'filtered') AS filtered,
           count(*) FILTER (WHERE outcome = 'error') AS errors,
           (array_agg(outcome ORDER BY row_id DESC)
               FILTER (WHERE outcome IN ('started', 'filtered', 'error')))[1] AS latest,
           (array_agg(reason ORDER BY row_id DESC) FILTER (WHERE outcome = 'error'))[1] AS last_error
    FROM final WHERE trigger_id IS NOT NULL
    GROUP BY trigger_id
), locked AS (
    -- in id order, so that workers updating the same triggers at once never deadlock
    SELECT t.id, t.status FROM triggers t WHERE t.id IN (SELECT trigger_id FROM tally) ORDER BY t.id FOR UPDATE
), health AS (
    UPDATE triggers t
    SET started_rows = t.started_rows + y.started, filtered_rows = t.filtered_rows + y.filtered,
        error_rows = t.error_rows + y.errors,
        last_fired_at = CASE WHEN y.started > 0 THEN now() ELSE t.last_fired_at END,
        status = CASE WHEN NOT t.enabled OR y.latest IS NULL THEN t.status
                      WHEN y.latest = 'error' THEN 'error' ELSE 'ok' END,
        last_error = coalesce(y.last_error, t.last_error),
        error_since = CASE WHEN NOT t.enabled OR y.latest IS NULL THEN t.error_since
                           WHEN y.latest = 'error' THEN coalesce(t.error_since, now()) END
    FROM locked l JOIN tally y ON y.trigger_id = l.id
    WHERE t.id = l.id
    RETURNING t.id, l.status AS was, t.status, t.last_error
)
SELECT (SELECT coalesce(jsonb_agg(jsonb_build_array(o.trigger_id, o.outcome, o.n)), '[]')
        FROM (SELECT trigger_id, outcome, count(*) AS n FROM final GROUP BY trigger_id, outcome) o) AS outcomes,
       (SELECT coalesce(jsonb_agg(jsonb_build_array(h.id, h.was, h.status, h.last_error)), '[]')
        FROM health h WHERE h.was <> h.status) AS status_changes,
       n.started,
       CASE WHEN n.started > 0 THEN pg_notify('{WAKE_CHANNEL}', '') END AS notified
FROM (SELECT count(*) AS started FROM started) n
""")


async def consume(conn: Conn, initial_state: str, verdicts: Sequence[Verdict]) -> Consumed:
    """Start the executions, record every row's outcome and the triggers' health, in one statement."""
    args = _CONSUME.args(
        initial_state=initial_state,
        row_ids=[v.row_id for v in verdicts],
        trigger_ids=[v.trigger_id for v in verdicts],
        fanned_out=[v.fanned_out for v in verdicts],
        outcomes=[v.outcome for v in verdicts],
        reasons=[v.reason for v in verdicts],
        execution_ids=[v.execution_id for v in verdicts],
        keys=[v.execution_key for v in verdicts],
        workflow_ids=[v.workflow_id for v in verdicts],
        workflow_versions=[v.workflow_version for v in verdicts],
        start_nodes=[v.start_node for v in verdicts],
        slot_keys=[v.slots.key for v in verdicts],
        slot_limits=[v.slots.key_limit for v in verdicts],
        total_limits=[v.slots.total_limit for v in verdicts],
        coalesce_keys=[v.coalesce_key for v in verdicts],
        quiets=[v.quiet for v in verdicts],
        max_waits=[v.max_wait for v in verdicts],
    )
    row = await conn.fetchrow(_CONSUME.sql, *args)
    assert row is not None
    return Consumed(
        outcomes=[(_uuid(t), str(o), int(n)) for t, o, n in row["outcomes"]],
        started=int(row["started"]),
        status_changes=[(uuid.UUID(t), str(w), str(s), e) for t, w, s, e in row["status_changes"]],
    )


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


_INSERT_EVENT = Statement("""
WITH recorded AS (
    INSERT INTO event_log (namespace, type, payload, dedupe_key) VALUES (:namespace, :type, :payload, :dedupe_key)
    ON CONFLICT (namespace, type, dedupe_key) DO NOTHING
    RETURNING id
), targets AS (
    SELECT id FROM triggers WHERE namespace = :namespace AND event = :type
), inserted AS (
    INSERT INTO trigger_events (trigger_id, namespace, type, payload, dedupe_key, event_id)
    SELECT id, :namespace, :type, :payload, :dedupe_key, (SELECT id FROM recorded) FROM targets
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
    RETURNING id, trigger_id
)
SELECT id FROM inserted
UNION ALL
SELECT e.id FROM trigger_events e JOIN targets t ON e.trigger_id = t.id
WHERE e.dedupe_key = :dedupe_key AND t.id NOT IN (SELECT trigger_id FROM inserted)
""")


async def insert_event(
    conn: Conn, namespace: str, type_: str, payload: JSONObject, dedupe_key: str | None
) -> list[int]:
    """Record the event (once per namespace, type and dedupe key) and write one row per event trigger of its type
    in the namespace (a disabled trigger's is consumed as `disabled`); with a known dedupe key, the rows stored
    before."""
    args = _INSERT_EVENT.args(namespace=namespace, type=type_, payload=payload, dedupe_key=dedupe_key)
    return sorted(r["id"] for r in await conn.fetch(_INSERT_EVENT.sql, *args))


_INSERT_DELIVERY = Statement("""
WITH inserted AS (
    INSERT INTO trigger_events (trigger_id, type, payload, dedupe_key)
    VALUES (:trigger_id, :type, :payload, :dedupe_key)
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM inserted
UNION ALL
SELECT id, false FROM trigger_events
WHERE trigger_id = :trigger_id AND dedupe_key = :dedupe_key AND NOT EXISTS (SELECT 1 FROM inserted)
""")


async def insert_delivery(
    conn: Conn, trigger_id: uuid.UUID, type_: str, payload: JSONObject, dedupe_key: str | None
) -> tuple[int, bool]:
    """One row for one trigger; with a known dedupe key, the row stored before. True when new."""
    args = _INSERT_DELIVERY.args(trigger_id=trigger_id, type=type_, payload=payload, dedupe_key=dedupe_key)
    row = await conn.fetchrow(_INSERT_DELIVERY.sql, *args)
    assert row is not None, "a conflicting dedupe key names a row"
    return int(row["id"]), bool(row["new"])


_INSERT_SIGNED_DELIVERY = Statement("""
WITH pruned AS (
    DELETE FROM hook_deliveries
    WHERE trigger_id = :trigger_id AND expires_at < now() AND key <> :dedupe_key
), remembered AS (
    -- a key still remembered is a replay: it writes nothing, whether or not its inbox row is still there
    INSERT INTO hook_deliveries AS d (trigger_id, key, expires_at) VALUES (:trigger_id, :dedupe_key, :expires_at)
    ON CONFLICT (trigger_id, key) DO UPDATE SET expires_at = excluded.expires_at WHERE d.expires_at < now()
    RETURNING 1
), inserted AS (
    INSERT INTO trigger_events (trigger_id, type, payload, dedupe_key)
    SELECT :trigger_id, :type, :payload, :dedupe_key WHERE EXISTS (SELECT 1 FROM remembered)
    ON CONFLICT (trigger_id, dedupe_key) DO NOTHING
    RETURNING id
)
SELECT id, true AS new FROM inserted
UNION ALL
SELECT id, false FROM trigger_events
WHERE trigger_id = :trigger_id AND dedupe_key = :dedupe_key AND NOT EXISTS (SELECT 1 FROM inserted)
""")


async def insert_signed_delivery(
    conn: Conn, trigger_id: uuid.UUID, payload: JSONObject, key: str, expires_at: datetime
) -> tuple[int | None, bool]:
    """One row for a signed delivery, its key remembered until `expires_at` (when its signature goes stale), so
    a replay meanwhile writes nothing; True when new. A replay's row id, while the inbox still holds it."""
    args = _INSERT_SIGNED_DELIVERY.args(
        trigger_id=trigger_id, type="webhook", payload=payload, dedupe_key=key, expires_at=expires_at
    )
    row = await conn.fetchrow(_INSERT_SIGNED_DELIVERY.sql, *args)
    if row is None:
        return None, False
    return int(row["id"]), bool(row["new"])
