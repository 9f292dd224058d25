"""Waits for events (`event_waits`): parking one, looking back, finding the waits new events may end, and
delivering events to waits, each wait closed once whichever of an event or its timeout comes first.

The wait's row is where an event and the timeout meet: both close it with `closed_at IS NULL` in the
UPDATE's WHERE, so the row lock lets exactly one of them win, and the loser sees the winner's close.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import DELAYED, TERMINAL_STATES
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.claims import CLAIM_DETAIL, CLAIMED_COLUMNS, NO_CLAIM, ROUTED, ClaimFor, claim_move_args, claim_set
from conveyor.store.event_log import Event, event
from conveyor.store.executions import Execution, execution, in_delay
from conveyor.store.history import INSERT_HISTORY
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class WaitState:
    """A wait as its node sees it when it runs again."""

    closed: bool
    event_id: int | None
    payload: JSONObject | None
    deadline: datetime | None
    due: bool


_FIND = Statement("""
SELECT w.closed_at IS NOT NULL AS closed, w.event_id, ev.payload, w.deadline,
       coalesce(w.deadline <= now(), false) AS due
FROM event_waits w LEFT JOIN event_log ev ON ev.id = w.event_id
WHERE w.execution_id = :execution_id AND w.visit = :visit
""")


async def find_wait(conn: Conn, execution_id: uuid.UUID, visit: int) -> WaitState | None:
    """The wait of this visit, if it was parked."""
    row = await conn.fetchrow(_FIND.sql, *_FIND.args(execution_id=execution_id, visit=visit))
    return None if row is None else WaitState(**dict(row))


_FIND_MANY = Statement("""
SELECT k.execution_id, k.visit, w.closed_at IS NOT NULL AS closed, w.event_id, ev.payload, w.deadline,
       coalesce(w.deadline <= now(), false) AS due
FROM unnest(:execution_ids::uuid[], :visits::integer[]) AS k(execution_id, visit)
JOIN event_waits w ON w.execution_id = k.execution_id AND w.visit = k.visit
LEFT JOIN event_log ev ON ev.id = w.event_id
""")


async def find_waits(conn: Conn, keys: Sequence[tuple[uuid.UUID, int]]) -> dict[tuple[uuid.UUID, int], WaitState]:
    """The waits of these (execution, visit) pairs that were parked, by pair; one statement."""
    args = _FIND_MANY.args(execution_ids=[k[0] for k in keys], visits=[k[1] for k in keys])
    found = {}
    for r in await conn.fetch(_FIND_MANY.sql, *args):
        found[(r["execution_id"], r["visit"])] = WaitState(
            r["closed"], r["event_id"], r["payload"], r["deadline"], r["due"]
        )
    return found


_CLOSE = Statement("""
UPDATE event_waits SET closed_at = now()
WHERE execution_id = :execution_id AND visit = :visit AND closed_at IS NULL
""")


async def close_on_timeout(conn: Conn, execution_id: uuid.UUID, visit: int) -> WaitState:
    """Close the wait without an event, unless an event closed it first; return how it was closed."""
    await conn.execute(_CLOSE.sql, *_CLOSE.args(execution_id=execution_id, visit=visit))
    # A new statement, so a new snapshot: it sees the event that won, if one did.
    wait = await find_wait(conn, execution_id, visit)
    assert wait is not None
    return wait


@dataclass(frozen=True, slots=True)
class ParkedWait:
    """A wait to park: what it waits for, from when, and its match key when the rule has one."""

    execution_id: uuid.UUID
    visit: int
    node: str
    event_types: list[str]
    lookback_seconds: float | None
    match_path: list[str] | None
    match_value: str | None


# One statement: store the wait (a wait parked before at this visit is kept as it was), then, unless that earlier
# wait is closed, read the events it may match since it looks back to. The look back reads what it needs from the
# arguments and the earlier row, not from the row this statement inserts, which its own snapshot cannot see.
_PARK = Statement("""
WITH earlier AS (
    SELECT closed_at IS NOT NULL AS closed, since, namespace FROM event_waits
    WHERE execution_id = :execution_id AND visit = :visit
), wait AS (
    INSERT INTO event_waits (execution_id, visit, node, namespace, event_types, match_path, match_value, since,
                             deadline)
    SELECT e.id, :visit, :node, e.namespace, :event_types, :match_path, :match_value,
           CASE WHEN :lookback_seconds::float8 IS NULL THEN e.created_at
                ELSE now() - make_interval(secs => :lookback_seconds) END,
           e.wake_at
    FROM executions e WHERE e.id = :execution_id
    ON CONFLICT (execution_id, visit) DO NOTHING
    RETURNING since, namespace
), paths AS (
    INSERT INTO event_match_paths (event_type, path)
    SELECT t, :match_path FROM unnest(:event_types::text[]) AS t WHERE :match_path::text[] IS NOT NULL
    ON CONFLICT DO NOTHING
), open AS (
    SELECT coalesce((SELECT since FROM earlier), (SELECT since FROM wait)) AS since,
           coalesce((SELECT namespace FROM earlier), (SELECT namespace FROM wait)) AS namespace
    WHERE NOT coalesce((SELECT closed FROM earlier), false)
)
SELECT (SELECT closed FROM earlier) AS closed, ev.id, ev.type, ev.payload, ev.created_at
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (
    SELECT ev.id, ev.type, ev.payload, ev.created_at
    FROM open JOIN event_log ev
        ON ev.type = ANY (:event_types::text[]) AND ev.created_at >= open.since AND ev.namespace = open.namespace
    WHERE (:match_path::text[] IS NULL
           OR jsonb_build_object('type', ev.type, 'payload', ev.payload) #>> :match_path::text[] = :match_value)
      AND NOT EXISTS (SELECT 1 FROM event_waits d WHERE d.execution_id = :execution_id AND d.event_id = ev.id)
) AS ev ON true
ORDER BY ev.id
""")


async def park(conn: Conn, wait: ParkedWait) -> tuple[bool, list[Event]]:
    """Store the wait (kept as it is when parked before); return whether it is closed, and else the events
    it may match that were recorded since it looks back to, oldest first. One statement."""
    args = _PARK.args(
        execution_id=wait.execution_id,
        visit=wait.visit,
        node=wait.node,
        event_types=wait.event_types,
        match_path=wait.match_path,
        match_value=wait.match_value,
        lookback_seconds=wait.lookback_seconds,
    )
    rows = await conn.fetch(_PARK.sql, *args)
    if rows[0]["closed"]:
        return True, []
    return False, [event(r) for r in rows if r["id"] is not None]


@dataclass(frozen=True, slots=True)
class Candidate:
    """An open wait that a new event may end, with what its `match` rule sees of the execution."""

    event_id: int
    execution_id: uuid.UUID
    visit: int
    node: str
    workflow_id: uuid.UUID
    workflow_version: int
    attempt: int
    input: JSONObject
    context: JSONObject


_CANDIDATES = Statement("""
WITH ev AS (
    SELECT id, namespace, type, created_at, jsonb_build_object('type', type, 'payload', payload) AS doc
    FROM event_log WHERE id = ANY (:event_ids::bigint[])
), ev_key AS MATERIALIZED (
    -- each event's keys, computed first: joined to the waits on two plain columns, a hash join or an index
    -- lookup whatever the statistics say, never a filter over every pair (stale estimates after a bulk of
    -- new waits chose that: 3.8 s instead of 37 ms for 1,000 events against 10,000 waits); MATERIALIZED, or the
    -- planner folds it back into that join
    SELECT ev.id, ev.namespace, ev.type, ev.created_at, p.path, ev.doc #>> p.path AS value
    FROM ev JOIN event_match_paths p ON p.event_type = ev.type
), keyed AS (
    SELECT k.id AS event_id, w.execution_id, w.visit
    FROM ev_key k
    JOIN event_waits w ON w.match_path = k.path AND w.match_value = k.value
    WHERE w.closed_at IS NULL AND w.match_path IS NOT NULL
      AND k.type = ANY (w.event_types) AND k.created_at >= w.since AND w.namespace = k.namespace
), unkeyed AS (
    SELECT ev.id AS event_id, w.execution_id, w.visit
    FROM ev JOIN event_waits w ON w.event_types @> ARRAY[ev.type]
    WHERE w.closed_at IS NULL AND w.match_path IS NULL AND ev.created_at >= w.since AND w.namespace = ev.namespace
), pairs AS (
    SELECT * FROM keyed UNION ALL SELECT * FROM unkeyed
)
SELECT p.event_id, p.execution_id, p.visit, w.node, e.workflow_id, e.workflow_version, e.attempt, e.input,
       e.context
FROM pairs p
JOIN event_waits w ON w.execution_id = p.execution_id AND w.visit = p.visit
JOIN executions e ON e.id = p.execution_id
WHERE e.state <> ALL (:terminal_states::text[])
  AND NOT EXISTS (SELECT 1 FROM event_waits d WHERE d.execution_id = p.execution_id AND d.event_id = p.event_id)
ORDER BY p.execution_id, p.visit, p.event_id
""")


async def find_candidates(conn: Conn, events: Sequence[Event]) -> list[Candidate]:
    """Every open wait of a live execution that one of these events may end (its key, if any, agreeing)."""
    args = _CANDIDATES.args(event_ids=[e.id for e in events], terminal_states=sorted(TERMINAL_STATES))
    return [Candidate(**dict(r)) for r in await conn.fetch(_CANDIDATES.sql, *args)]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event for one wait."""

    execution_id: uuid.UUID
    visit: int
    event_id: int


@dataclass(frozen=True, slots=True)
class Delivered:
    """How many waits an event closed, how many executions that made due now, and those of them claimed."""

    closed: int
    woken: int
    claimed: list[Execution]


# The woken executions that `claim` may take at once are claimed as a claim would take them (the same move, lease
# and history row), the rest are made due now: a claim by this statement spares the worker's claim statement its
# second write of each row, and the execution runs as soon as the match commits.
_DELIVER = Statement(f"""
WITH delivery AS (
    SELECT * FROM unnest(:execution_ids::uuid[], :visits::integer[], :event_ids::bigint[])
        AS d(execution_id, visit, event_id)
), closed AS (
    UPDATE event_waits w SET closed_at = now(), event_id = d.event_id
    FROM delivery d
    WHERE w.execution_id = d.execution_id AND w.visit = d.visit AND w.closed_at IS NULL
    RETURNING w.execution_id
), target AS (
    SELECT e.id, e.state, e.lease_owner,
           e.state = '{DELAYED}' AND e.lease_owner IS NULL AND e.slot_key IS NULL AND e.total_limit IS NULL
           AND {ROUTED.format(provides=":provides")} AS claimable
    FROM executions e
    WHERE e.id IN (SELECT execution_id FROM closed UNION SELECT unnest(:wake_ids::uuid[])) AND {in_delay("e")}
), taken AS (
    SELECT id, state, lease_owner FROM target WHERE claimable ORDER BY id LIMIT :room
), move AS (
    SELECT * FROM unnest(:sources::text[], :events::text[], :targets::text[]) AS m(source, event, target)
), claimed AS (
    UPDATE executions e SET {claim_set("m.target")}
    FROM taken t JOIN move m ON m.source = t.state
    WHERE e.id = t.id AND e.state = t.state AND e.lease_owner IS NULL
    RETURNING {CLAIMED_COLUMNS}, m.source AS claimed_from, m.event AS claimed_by, t.lease_owner AS previous_owner
), history AS (
    {INSERT_HISTORY}
    SELECT c.id, c.claimed_from, c.state, c.claimed_by, c.current_node, c.attempt, {CLAIM_DETAIL}
    FROM claimed c
), woken AS (
    UPDATE executions e SET wake_at = now(), updated_at = now()
    WHERE e.id IN (SELECT id FROM target EXCEPT SELECT id FROM taken) AND {in_delay("e")}
    RETURNING e.id
), matched AS (
    UPDATE event_log SET matched_at = now() WHERE id = ANY (:matched_ids::bigint[])
), counts AS (
    SELECT (SELECT count(*) FROM closed) AS closed, n.woken,
           CASE WHEN n.woken > 0 THEN pg_notify('{WAKE_CHANNEL}', '') END AS notified
    FROM (SELECT count(*) AS woken FROM woken) AS n
)
SELECT n.closed, n.woken, c.* FROM counts n LEFT JOIN claimed c ON true
""")


async def deliver(
    conn: Conn,
    deliveries: Sequence[Delivery],
    *,
    matched_ids: Sequence[int] = (),
    wake_ids: Sequence[uuid.UUID] = (),
    claim: ClaimFor = NO_CLAIM,
) -> Delivered:
    """Close each open wait with its event and make its execution due now, or claim it for `claim` while it
    has room; mark `matched_ids` as taken by the match stage; make `wake_ids` due now too (waits closed
    before). One statement."""
    args = _DELIVER.args(
        execution_ids=[d.execution_id for d in deliveries],
        visits=[d.visit for d in deliveries],
        event_ids=[d.event_id for d in deliveries],
        matched_ids=list(matched_ids),
        wake_ids=list(wake_ids),
        owner=claim.owner,
        room=claim.room,
        lease_seconds=claim.lease_seconds,
        provides=list(claim.provides),
        **claim_move_args(),
    )
    rows = await conn.fetch(_DELIVER.sql, *args)
    claimed = [execution(r) for r in rows if r["id"] is not None]
    woken = int(rows[0]["woken"]) + len(claimed)
    return Delivered(int(rows[0]["closed"]), woken, claimed)
