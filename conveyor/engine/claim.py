"""Claim due executions: one transaction, one locking read and one write per batch (two more statements when
some locked executions have concurrency caps: the caps' locks and the count that admits them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from conveyor.failpoints import Point, fail
from conveyor.statemachines import ExecutionModel, apply_events, claim_event
from conveyor.store import Pool, connection
from conveyor.store.claims import Claim, admit, lock_due, mark_claimed
from conveyor.store.executions import Execution


def _claim(ex: Execution) -> Claim:
    [transition] = apply_events(ExecutionModel(ex.state), claim_event(ex.state))
    return Claim(ex, transition)


async def claim_due(
    pool: Pool, owner: str, limit: int, lease_seconds: float, in_flight: Sequence[uuid.UUID] = ()
) -> list[Execution]:
    """Take up to `limit` due executions for `owner` (none it runs already), recording each take in history."""
    async with connection(pool) as conn:
        async with conn.transaction():
            locked = await admit(conn, await lock_due(conn, limit, in_flight))
            if not locked:
                return []
            claimed = await mark_claimed(conn, owner, lease_seconds, [_claim(ex) for ex in locked])
        fail(Point.AFTER_CLAIM)  # committed: a crash or a lost answer here leaves them leased to nobody alive
    return claimed
