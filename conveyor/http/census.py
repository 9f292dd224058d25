"""Executions by workflow and state for /metrics: a cached count, refreshed at most every few seconds."""

from __future__ import annotations

import asyncio
import time

import structlog
from prometheus_client import Gauge

from conveyor.errors import DatabaseUnavailableError
from conveyor.store import Pool, connection
from conveyor.store.recovery import count_by_workflow_and_state

log = structlog.get_logger(__name__)

EXECUTIONS = Gauge(
    "conveyor_executions", "Executions by workflow and state (counted at most every 5 s)", ["workflow", "state"]
)
# Counting is a scan of executions: scrapes within this long of the last count share it.
_MAX_AGE_SECONDS = 5.0


class Census:
    """The counts behind the `conveyor_executions` gauge, refreshed on a scrape when older than a few seconds."""

    def __init__(self) -> None:
        self._counted_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, pool: Pool) -> None:
        """Count again if the last count is stale; with the database away, keep the last values."""
        async with self._lock:  # concurrent scrapes wait for one count rather than each scanning
            if self._counted_at is not None and time.monotonic() - self._counted_at < _MAX_AGE_SECONDS:
                return
            try:
                async with connection(pool) as conn:
                    counts = await count_by_workflow_and_state(conn)
            except DatabaseUnavailableError as exc:
                log.warning("execution_census_failed", error=exc.message)
                return
            EXECUTIONS.clear()
            for (workflow, state), n in counts.items():
                EXECUTIONS.labels(workflow, state).set(n)
            self._counted_at = time.monotonic()
