"""Claim due executions: one statement per batch; a transaction of four more when some due executions have
concurrency caps (lock them again, the caps' locks, the count that admits them, the write)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from conveyor.failpoints import Point, fail
from conveyor.statemachines import ExecutionModel, apply_events, claim_event
from conveyor.store import Pool, connection
from conveyor.store.claims import Claim, admit, claim_uncapped, lock_capped, mark_claimed
from conveyor.store.executions import Execution


def _claim(ex: Execution) -> Claim:
    [transition] = apply_events(ExecutionModel(ex.state), claim_event(ex.state))
    return Claim(ex, transition)


async def claim_due(
    pool: Pool,
    owner: str,
    limit: int,
    lease_seconds: float,
    in_flight: Sequence[uuid.UUID] = (),
    provides: Sequence[str] = (),
) -> list[Execution]:
    """Take up to `limit` due executions for `owner` (none it runs already, none of an action it does not
    provide), recording each take in history."""
    async with connection(pool) as conn:
        first = await claim_uncapped(conn, owner, limit, lease_seconds, in_flight, provides)
        claimed = first.claimed
        if first.capped:
            async with conn.transaction():
                admitted = await admit(conn, await lock_capped(conn, first.capped, provides))
                if admitted:
                    claimed += await mark_claimed(conn, owner, lease_seconds, [_claim(ex) for ex in admitted])
        if claimed:
            fail(Point.AFTER_CLAIM)  # committed: a crash or a lost answer here leaves them leased to nobody alive
    return claimed
