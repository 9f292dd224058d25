"""Claim due executions: one transaction, one locking read and one write per batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from conveyor.db import Pool
from conveyor.engine.store.executions import Claim, Execution, lock_due, mark_claimed
from conveyor.statemachines import ExecutionModel, apply_events

# The event that takes an execution from the state it rests in to `running`. A `running` one is due
# only when its lease lapsed or was handed back: taking it over is on the record too.
_CLAIM_EVENTS = {"idle": "start", "delayed": "wake", "retrying": "retry_due", "running": "reclaim"}


def _claim(ex: Execution) -> Claim:
    [transition] = apply_events(ExecutionModel(ex.state), _CLAIM_EVENTS[ex.state])
    return Claim(ex, transition)


async def claim_due(
    pool: Pool, owner: str, limit: int, lease_seconds: float, in_flight: Sequence[uuid.UUID] = ()
) -> list[Execution]:
    """Take up to `limit` due executions for `owner` (none it runs already), recording each take in history."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await lock_due(conn, limit, in_flight)
        if not locked:
            return []
        return await mark_claimed(conn, owner, lease_seconds, [_claim(ex) for ex in locked])
