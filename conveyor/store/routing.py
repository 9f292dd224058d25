"""Routing executions to the workers that provide their action: handing one over, parking those no live worker
can run (not due, so no claim reads them again and again), and waking them when a provider starts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from conveyor.statemachines import PAUSED, TERMINAL_STATES
from conveyor.store import Conn
from conveyor.store.channels import WAKE_CHANNEL
from conveyor.store.statement import Statement

# Whether some live worker provides the action named by `{action}`.
_PROVIDED = """EXISTS (
    SELECT 1 FROM worker_actions p JOIN workers w ON w.id = p.worker_id
    WHERE p.key = {action} AND w.stopped_at IS NULL
      AND w.heartbeat_at > now() - make_interval(secs => :live_seconds))"""

# Leave the execution to the workers of `action`: due now if one is alive, else parked.
_ROUTE = Statement(f"""
WITH routed AS (
    UPDATE executions e
    SET action = :action, lease_owner = NULL, version = e.version + 1, updated_at = now(),
        wake_at = CASE WHEN {_PROVIDED.format(action=":action")} THEN now() END
    WHERE e.id = :execution_id AND e.lease_owner = :owner
    RETURNING e.id, e.action, e.wake_at
), parked AS (
    INSERT INTO parked_executions (execution_id, action)
    SELECT id, action FROM routed WHERE wake_at IS NULL
    ON CONFLICT (execution_id) DO UPDATE SET action = excluded.action, parked_at = now()
    RETURNING 1
), notified AS (
    SELECT pg_notify('{WAKE_CHANNEL}', '') FROM routed WHERE wake_at IS NOT NULL
)
SELECT (SELECT count(*) FROM parked) > 0 AS parked, (SELECT count(*) FROM notified) AS notified
""")


async def route_elsewhere(conn: Conn, owner: str, execution_id: uuid.UUID, action: str, live_seconds: float) -> bool:
    """Hand an execution this worker holds to the workers of `action`; True when none is alive (it is parked)."""
    row = await conn.fetchrow(
        _ROUTE.sql, *_ROUTE.args(execution_id=execution_id, owner=owner, action=action, live_seconds=live_seconds)
    )
    return bool(row is not None and row["parked"])


_ENDED = sorted(TERMINAL_STATES)

# Due executions whose action no live worker provides (its workers stopped or died since): park them. Read
# through the due index, so it costs what is due, not what exists.
_PARK = Statement(f"""
WITH parked AS (
    UPDATE executions e SET wake_at = NULL, version = e.version + 1, updated_at = now()
    WHERE e.wake_at IS NOT NULL AND e.state <> '{PAUSED}' AND e.wake_at <= now() AND e.action IS NOT NULL
      AND NOT {_PROVIDED.format(action="e.action")}
    RETURNING e.id, e.action
)
INSERT INTO parked_executions (execution_id, action)
SELECT id, action FROM parked
ON CONFLICT (execution_id) DO UPDATE SET action = excluded.action, parked_at = now()
""")

# Parked executions of the actions a worker that starts provides: due now (those ended or paused meanwhile
# are only let go).
_WAKE = Statement(f"""
WITH freed AS (
    DELETE FROM parked_executions WHERE action = ANY(:actions::text[]) RETURNING execution_id
), woken AS (
    UPDATE executions e SET wake_at = now(), version = e.version + 1, updated_at = now()
    FROM freed f
    WHERE e.id = f.execution_id AND e.wake_at IS NULL AND e.state <> '{PAUSED}' AND e.state <> ALL(:ended::text[])
    RETURNING 1
)
SELECT count(*) AS n, pg_notify('{WAKE_CHANNEL}', '') FROM woken
""")


async def park_unprovided(conn: Conn, live_seconds: float) -> int:
    """Park due executions whose action no live worker provides; how many."""
    status = await conn.execute(_PARK.sql, *_PARK.args(live_seconds=live_seconds))
    return int(status.split()[-1])


async def wake_provided(conn: Conn, actions: Sequence[str]) -> int:
    """Make parked executions of these actions due now; how many."""
    row = await conn.fetchrow(_WAKE.sql, *_WAKE.args(actions=list(actions), ended=_ENDED))
    return int(row["n"]) if row else 0


_WAITING = Statement(f"""
SELECT p.action, count(*) AS n
FROM parked_executions p JOIN executions e ON e.id = p.execution_id
WHERE e.wake_at IS NULL AND e.state <> '{PAUSED}' AND e.state <> ALL(:ended::text[])
GROUP BY p.action ORDER BY p.action
""")


async def waiting_for_workers(conn: Conn) -> dict[str, int]:
    """How many executions wait for a worker that provides their action, by action."""
    rows = await conn.fetch(_WAITING.sql, *_WAITING.args(ended=_ENDED))
    return {r["action"]: int(r["n"]) for r in rows}
