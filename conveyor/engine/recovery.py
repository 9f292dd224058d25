"""Recovery on demand and at a worker's start: hand back executions whose workers are gone."""

from __future__ import annotations

from collections import Counter

import structlog

from conveyor.store import Pool, transaction
from conveyor.store.recovery import Released, release_abandoned

log = structlog.get_logger(__name__)

# A due wake-up nobody has claimed for this long is overdue (workers claim within a fraction of a second).
OVERDUE_GRACE_SECONDS = 5.0


def silence_limit_seconds(lease_seconds: float) -> float:
    """How long a worker may go without a heartbeat before it counts as gone: two lease lengths."""
    # A live worker beats a few times per lease period (engine/lease.py); two silent periods is no stall.
    return 2 * lease_seconds


async def recover(pool: Pool, silent_seconds: float, worker: str | None = None) -> list[Released]:
    """Make due now the executions held by gone workers (or only `worker`'s), and those whose lease lapsed."""
    async with transaction(pool) as conn:
        released = await release_abandoned(conn, silent_seconds, worker)
    if released:
        owners = Counter(r.lease_owner for r in released)
        log.info("executions_recovered", count=len(released), workers=dict(owners))
    return released
