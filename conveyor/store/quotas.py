"""What a namespace's quotas count: its executions started in the last minute, and those not yet ended."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.statemachines import STATES, TERMINAL_STATES
from conveyor.store import Conn
from conveyor.store.executions import in_namespace
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Usage:
    """A namespace's starts in the last minute (and when the oldest of them leaves it), and executions alive.

    Each count stops at the quota it is read for: past it, the exact number does not matter.
    """

    recent_starts: int
    oldest_leaves_in_seconds: float
    alive: int


# Bounded reads, each stopping at the quota: for another namespace than the default, ranges of
# executions_namespace_idx (the minute) and executions_alive_idx; for the default one, of executions_created_idx
# and executions_state_idx (the states not ended).
_USAGE = """
SELECT (SELECT count(*) FROM (SELECT 1 FROM executions
                              WHERE {scope} AND created_at > now() - interval '1 minute'
                              LIMIT :starts_limit) s) AS recent_starts,
       (SELECT extract(epoch FROM min(created_at) + interval '1 minute' - now())::float8
        FROM (SELECT created_at FROM executions
              WHERE {scope} AND created_at > now() - interval '1 minute'
              ORDER BY created_at DESC LIMIT :starts_limit) o) AS oldest_leaves_in_seconds,
       (SELECT count(*) FROM (SELECT 1 FROM executions
                              WHERE {scope} AND finished_at IS NULL AND state = ANY(:unfinished::text[])
                              LIMIT :alive_limit) a) AS alive
"""
_UNFINISHED = sorted(set(STATES) - TERMINAL_STATES)


async def namespace_usage(conn: Conn, namespace: str, starts_limit: int, alive_limit: int) -> Usage:
    """The namespace's usage, each count read up to its limit."""
    usage = Statement(_USAGE.format(scope=in_namespace(namespace)))
    row = await conn.fetchrow(
        usage.sql,
        *usage.args(
            namespace=namespace, starts_limit=starts_limit, alive_limit=alive_limit, unfinished=list(_UNFINISHED)
        ),
    )
    assert row is not None
    return Usage(row["recent_starts"], row["oldest_leaves_in_seconds"] or 0.0, row["alive"])
