"""History rows as live events: read by the ids a NOTIFY named, or after an id for a resuming reader."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from conveyor.store import Conn
from conveyor.store.executions import COLUMNS, Execution, execution
from conveyor.store.history import HistoryEntry
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One committed history row, with where it belongs."""

    id: int
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    entry: HistoryEntry
    namespace: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An execution as it stands, and the last history row that brought it there (None: no row yet)."""

    execution: Execution
    last_history_id: int | None


_EVENT_COLUMNS = """
h.id, h.execution_id, e.workflow_id, e.namespace, h.from_state, h.to_state, h.event, h.node, h.attempt, h.detail, h.at
"""
_BY_IDS = Statement(f"""
SELECT {_EVENT_COLUMNS} FROM execution_history h JOIN executions e ON e.id = h.execution_id
WHERE h.id = ANY(:ids::bigint[]) ORDER BY h.id
""")
_OF_EXECUTION_BETWEEN = Statement(f"""
SELECT {_EVENT_COLUMNS} FROM execution_history h JOIN executions e ON e.id = h.execution_id
WHERE h.execution_id = :execution_id AND h.id > :after AND h.id <= :through ORDER BY h.id
""")
_SNAPSHOT = Statement(f"""
SELECT {COLUMNS}, (SELECT max(id) FROM execution_history WHERE execution_id = :id) AS last_history_id
FROM executions WHERE id = :id
""")


def _event(row: asyncpg.Record) -> HistoryEvent:
    entry = HistoryEntry(
        row["from_state"], row["to_state"], row["event"], row["node"], row["attempt"], row["detail"], row["at"]
    )
    return HistoryEvent(row["id"], row["execution_id"], row["workflow_id"], entry, row["namespace"])


async def history_events(conn: Conn, ids: list[int]) -> list[HistoryEvent]:
    """The history rows with these ids (rows since deleted are left out), oldest first."""
    return [_event(r) for r in await conn.fetch(_BY_IDS.sql, *_BY_IDS.args(ids=ids))]


async def history_events_between(conn: Conn, execution_id: uuid.UUID, after: int, through: int) -> list[HistoryEvent]:
    """The execution's history rows with ids in (after, through], oldest first."""
    return [
        _event(r)
        for r in await conn.fetch(
            _OF_EXECUTION_BETWEEN.sql,
            *_OF_EXECUTION_BETWEEN.args(execution_id=execution_id, after=after, through=through),
        )
    ]


async def snapshot(conn: Conn, execution_id: uuid.UUID) -> Snapshot | None:
    """The execution and its last history row id, read together; None when there is no such execution."""
    row = await conn.fetchrow(_SNAPSHOT.sql, *_SNAPSHOT.args(id=execution_id))
    return Snapshot(execution(row), row["last_history_id"]) if row else None
