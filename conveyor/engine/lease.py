"""Keep the leases of running executions alive, in one statement for all of them."""

from __future__ import annotations

import asyncio
import uuid

import structlog

from conveyor.engine.metrics import DATABASE_UNAVAILABLE, LEASES_LOST, LOOP_ERRORS
from conveyor.errors import DatabaseUnavailableError
from conveyor.store import Pool, connection
from conveyor.store.claims import renew_leases
from conveyor.store.workers import heartbeat_worker

log = structlog.get_logger(__name__)


class LeaseKeeper:
    """Renews every held lease a few times per lease period, and the worker's heartbeat; reports leases lost."""

    def __init__(self, pool: Pool, owner: str, lease_seconds: float) -> None:
        self._pool = pool
        self._owner = owner
        self._lease_seconds = lease_seconds
        self.held: set[uuid.UUID] = set()

    async def run(self) -> None:
        """Renew until cancelled."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            try:
                held = set(self.held)
                async with connection(self._pool) as conn:
                    await heartbeat_worker(conn, self._owner)
                    if not held:
                        continue
                    kept = await renew_leases(conn, self._owner, list(held), self._lease_seconds)
                for lost in held - kept:
                    if lost in self.held:
                        LEASES_LOST.inc()
                        log.warning("lease_not_renewed", execution_id=str(lost))
            except DatabaseUnavailableError as exc:
                DATABASE_UNAVAILABLE.labels(loop="lease").inc()
                log.warning("database_unavailable", error=exc.message)
            except Exception:
                LOOP_ERRORS.labels(loop="lease").inc()
                log.exception("lease_renewal_failed")
