"""An execution's history and steps: how a history row is written (one declaration, which every statement that
moves an execution uses in the same transaction), and their reads."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Conn
from conveyor.store.statement import Statement

INSERT_HISTORY = "INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)"
"""The head of every statement that writes history rows; its SELECT gives them in this column order."""


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One transition of an execution."""

    from_state: str
    to_state: str
    event: str
    node: str | None
    attempt: int
    detail: JSONObject | None
    at: datetime


class StepStatus(enum.StrEnum):
    """How one attempt of one node stands (the execution_steps CHECK lists the same)."""

    COMPLETED = "completed"
    FAILED = "failed"
    WAITING = "waiting"  # a shared-flow step, completed in place when its child ends


@dataclass(frozen=True, slots=True)
class Step:
    """One attempt of one node, as a step commit writes it and the API reads it."""

    node: str
    visit: int
    attempt: int
    status: str
    input: JSONValue
    output: JSONValue
    error: JSONValue
    started_at: datetime | None = None  # set by the database when the step is stored
    finished_at: datetime | None = None


_HISTORY = Statement("""
SELECT from_state, to_state, event, node, attempt, detail, at
FROM execution_history WHERE execution_id = :execution_id ORDER BY id
""")
_STEPS = Statement("""
SELECT node, visit, attempt, status, input, output, error, started_at, finished_at
FROM execution_steps WHERE execution_id = :execution_id ORDER BY id
""")


async def list_history(conn: Conn, execution_id: uuid.UUID) -> list[HistoryEntry]:
    """Every transition of the execution, in order."""
    return [HistoryEntry(**dict(r)) for r in await conn.fetch(_HISTORY.sql, *_HISTORY.args(execution_id=execution_id))]


async def list_steps(conn: Conn, execution_id: uuid.UUID) -> list[Step]:
    """Every step attempt of the execution, in order."""
    return [Step(**dict(r)) for r in await conn.fetch(_STEPS.sql, *_STEPS.args(execution_id=execution_id))]
