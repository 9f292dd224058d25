"""Claim due executions: one transaction, one locking read and one write per batch."""

from __future__ import annotations

from conveyor.db import Pool
from conveyor.engine.store.executions import Claim, Execution, lock_due, mark_claimed
from conveyor.statemachines import ExecutionModel, Transition, apply_events

# The event that takes an execution from the state it rests in to `running`.
_CLAIM_EVENTS = {"idle": "start", "delayed": "wake", "retrying": "retry_due"}


def _claim_transitions(ex: Execution) -> tuple[str, list[Transition]]:
    model = ExecutionModel(ex.state)
    if ex.state == "running":
        # Queued by an operator (no owner) runs as is; a lapsed lease is taken over, on the record.
        return "running", apply_events(model, "reclaim") if ex.lease_owner else []
    transitions = apply_events(model, _CLAIM_EVENTS[ex.state])
    return model.state, transitions


async def claim_due(pool: Pool, owner: str, limit: int, lease_seconds: float) -> list[Execution]:
    """Take up to `limit` due executions for `owner`, recording each take in history."""
    async with pool.acquire() as conn, conn.transaction():
        locked = await lock_due(conn, limit)
        if not locked:
            return []
        claims = [Claim(ex, *_claim_transitions(ex)) for ex in locked]
        return await mark_claimed(conn, owner, lease_seconds, claims)
