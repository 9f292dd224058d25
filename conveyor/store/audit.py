"""What the history checker reads: every execution's walk, doubled step commits, side-effect keys per step."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from conveyor.statemachines import Transition
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Walk:
    """An execution as it stands, and its history in the order it was written."""

    execution_id: uuid.UUID
    state: str
    resume_state: str | None
    finished: bool
    leased: bool
    history_ids: Sequence[int]
    transitions: Sequence[Transition]


_WALKS = Statement("""
SELECT e.id, e.state, e.resume_state, e.finished_at IS NOT NULL AS finished, e.lease_owner IS NOT NULL AS leased,
       coalesce(h.ids, '{}') AS ids, coalesce(h.sources, '{}') AS sources,
       coalesce(h.targets, '{}') AS targets, coalesce(h.events, '{}') AS events
FROM executions e
LEFT JOIN LATERAL (
    SELECT array_agg(id ORDER BY id) AS ids, array_agg(from_state ORDER BY id) AS sources,
           array_agg(to_state ORDER BY id) AS targets, array_agg(event ORDER BY id) AS events
    FROM execution_history WHERE execution_id = e.id
) h ON true
WHERE e.id > :after
ORDER BY e.id
LIMIT :limit
""")


async def read_walks(conn: Conn, after: uuid.UUID | None, limit: int) -> list[Walk]:
    """Up to `limit` executions (ids past `after`, in id order) with their histories."""
    rows = await conn.fetch(_WALKS.sql, *_WALKS.args(after=after or uuid.UUID(int=0), limit=limit))
    return [
        Walk(
            r["id"],
            r["state"],
            r["resume_state"],
            r["finished"],
            r["leased"],
            r["ids"],
            [Transition(*t) for t in zip(r["sources"], r["targets"], r["events"], strict=True)],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class DoubledStep:
    """One (node, visit, attempt) of an execution committed more than once."""

    execution_id: uuid.UUID
    node: str
    visit: int
    attempt: int
    commits: int
    restarts: int


# An operator's restart (retry, rerun) gives the failed step a fresh attempt budget under the same visit, so
# each restart may store one more commit of a step attempt; anything beyond is a double.
_DOUBLED_STEPS = Statement("""
WITH restarts AS (
    SELECT execution_id, count(*) AS n FROM execution_history WHERE event = ANY(:events::text[]) GROUP BY execution_id
)
SELECT s.execution_id, s.node, s.visit, s.attempt, count(*) AS commits, coalesce(r.n, 0) AS restarts
FROM execution_steps s LEFT JOIN restarts r ON r.execution_id = s.execution_id
GROUP BY s.execution_id, s.node, s.visit, s.attempt, r.n
HAVING count(*) > 1 + coalesce(r.n, 0)
ORDER BY s.execution_id, s.visit, s.attempt
""")


async def doubled_steps(conn: Conn, restart_events: Sequence[str]) -> list[DoubledStep]:
    """Step attempts stored more often than once plus once per restart: a commit without the lease, a replay."""
    return [
        DoubledStep(**dict(r))
        for r in await conn.fetch(_DOUBLED_STEPS.sql, *_DOUBLED_STEPS.args(events=list(restart_events)))
    ]


@dataclass(frozen=True, slots=True)
class SurplusKeys:
    """An execution's node whose side effects carried more idempotency keys than it had visits."""

    execution_id: uuid.UUID
    node: str
    table: str
    keys: int
    visits: int


# A step's key is one per visit of its node, the same for each retry and each re-run after a crash. The visits
# are those that stored a step, and the one the execution stands at (it may have ended there, cancelled).
_SURPLUS_KEYS = """
WITH visits AS (
    SELECT execution_id, node, visit FROM execution_steps
    UNION
    SELECT id, current_node, visit FROM executions WHERE current_node IS NOT NULL
), keys AS (
    SELECT 'email_logs' AS source, execution_id, node, count(DISTINCT idempotency_key) AS keys
    FROM email_logs WHERE execution_id IS NOT NULL GROUP BY execution_id, node
    UNION ALL
    SELECT 'webhook_logs', execution_id, node, count(DISTINCT idempotency_key)
    FROM webhook_logs WHERE execution_id IS NOT NULL GROUP BY execution_id, node
)
SELECT k.execution_id, k.node, k.source, k.keys, count(v.visit) AS visits
FROM keys k LEFT JOIN visits v ON v.execution_id = k.execution_id AND v.node = k.node
GROUP BY k.execution_id, k.node, k.source, k.keys
HAVING k.keys > count(v.visit)
ORDER BY k.execution_id, k.node
"""


async def surplus_keys(conn: Conn) -> list[SurplusKeys]:
    """Nodes whose emails or webhook calls used more keys than the node had visits."""
    return [
        SurplusKeys(r["execution_id"], r["node"], r["source"], r["keys"], r["visits"])
        for r in await conn.fetch(_SURPLUS_KEYS)
    ]
