"""Claiming due executions under a lease, keeping leases alive, and handing them back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.statemachines import PAUSED, Transition
from conveyor.store import Conn
from conveyor.store.executions import COLUMNS, WAKE_CHANNEL, Execution, execution

# The due index (schema.sql) leaves paused executions out; the planner uses it only for a query whose
# predicate says the same in the same literal words, hence a literal rather than a parameter here.
DUE = f"wake_at IS NOT NULL AND state <> '{PAUSED}'"

_LOCK_DUE = f"""
SELECT {COLUMNS} FROM executions
WHERE {DUE} AND wake_at <= now() AND id <> ALL($2::uuid[])
ORDER BY wake_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""


async def lock_due(conn: Conn, limit: int, in_flight: Sequence[uuid.UUID]) -> list[Execution]:
    """Lock up to `limit` executions that need a worker now, skipping rows others hold and our own in flight."""
    return [execution(r) for r in await conn.fetch(_LOCK_DUE, limit, list(in_flight))]


@dataclass(frozen=True, slots=True)
class Claim:
    """An execution a worker takes, with the transition the take makes."""

    execution: Execution
    transition: Transition


_E_COLUMNS = ", ".join("e." + c for c in COLUMNS.split(", "))
_MARK_CLAIMED = f"""
WITH claimed AS (
    UPDATE executions e
    SET state = c.target, lease_owner = $2, wake_at = now() + make_interval(secs => $3),
        version = e.version + 1, started_at = coalesce(e.started_at, now()), step_started_at = now(),
        updated_at = now()
    FROM unnest($1::uuid[], $4::text[]) AS c(id, target)
    WHERE e.id = c.id
    RETURNING {_E_COLUMNS}
), history AS (
    INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
    SELECT h.id, h.source, h.target, h.event, e.current_node, e.attempt, h.detail
    FROM unnest($1::uuid[], $4::text[], $5::text[], $6::text[], $7::jsonb[]) AS h(id, target, source, event, detail)
    JOIN claimed e ON e.id = h.id
)
SELECT * FROM claimed
"""


async def mark_claimed(conn: Conn, owner: str, lease_seconds: float, claims: Sequence[Claim]) -> list[Execution]:
    """Give the locked executions to `owner` and record the transition that took each one."""
    rows = await conn.fetch(
        _MARK_CLAIMED,
        [c.execution.id for c in claims],
        owner,
        lease_seconds,
        [c.transition.target for c in claims],
        [c.transition.source for c in claims],
        [c.transition.event for c in claims],
        [{"worker": owner, "previous_owner": c.execution.lease_owner} for c in claims],
    )
    return [execution(r) for r in rows]


_RENEW = """
UPDATE executions SET wake_at = now() + make_interval(secs => $3)
WHERE id = ANY($1::uuid[]) AND lease_owner = $2
RETURNING id
"""


async def renew_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], lease_seconds: float) -> set[uuid.UUID]:
    """Extend the leases `owner` still holds; return the ids it still holds."""
    return {r["id"] for r in await conn.fetch(_RENEW, list(ids), owner, lease_seconds)}


_RELEASE = f"""
WITH released AS (
    UPDATE executions
    SET lease_owner = NULL, wake_at = now() + make_interval(secs => $3), version = version + 1
    WHERE id = ANY($1::uuid[]) AND lease_owner = $2
    RETURNING id
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM released
"""


async def release_leases(conn: Conn, owner: str, ids: Sequence[uuid.UUID], after_seconds: float = 0.0) -> int:
    """Hand executions back so another worker takes them (after `after_seconds`) without waiting out the lease."""
    row = await conn.fetchrow(_RELEASE, list(ids), owner, after_seconds)
    return int(row["n"]) if row else 0


_NEXT_DUE = f"""
SELECT extract(epoch FROM min(wake_at) - now())::float8
FROM executions WHERE {DUE} AND id <> ALL($1::uuid[])
"""


async def seconds_until_next_due(conn: Conn, in_flight: Sequence[uuid.UUID] = ()) -> float | None:
    """How long until the next execution (not one we run) needs a worker, by the database's clock."""
    value: float | None = await conn.fetchval(_NEXT_DUE, list(in_flight))
    return value
