"""Counts of executions per state, for one workflow."""

from __future__ import annotations

import uuid

from conveyor.store import Conn
from conveyor.store.statement import Statement

# Reads executions_workflow_idx's range for the workflow; one group per state.
_BY_STATE = Statement("SELECT state, count(*) AS n FROM executions WHERE workflow_id = :workflow_id GROUP BY state")


async def count_by_state(conn: Conn, workflow_id: uuid.UUID) -> dict[str, int]:
    """The workflow's executions per state; states with none are absent."""
    return {r["state"]: r["n"] for r in await conn.fetch(_BY_STATE.sql, *_BY_STATE.args(workflow_id=workflow_id))}
