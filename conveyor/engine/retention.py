"""The retention stage: finished executions past their retention go, with their rows, a small batch at a time."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import structlog
from pydantic import TypeAdapter, ValidationError

from conveyor.definitions import Retention
from conveyor.engine.metrics import LOOP_ERRORS, RETENTION_DELETED
from conveyor.errors import DatabaseUnavailableError
from conveyor.store import Pool, connection, transaction
from conveyor.store.retention import (
    Override,
    VersionRetention,
    delete_finished,
    delete_old_rows,
    version_retentions,
)

log = structlog.get_logger(__name__)

# Deleting is never urgent: look once a minute. While batches come back full, the next starts after a pause as
# long as the last one took, so the stage keeps at most half of one connection busy however far behind it is.
_INTERVAL_SECONDS = 60.0
_PAUSE_PER_BATCH_SECOND = 1.0
_RETENTION = TypeAdapter(Retention)


class RetentionStage:
    """Delete what is past retention, one bounded batch at a time, in a task of its own beside the worker's loop."""

    def __init__(self, pool: Pool, retention: timedelta | None, batch_size: int) -> None:
        self._pool = pool
        self._default = retention.total_seconds() if retention is not None else None
        self._batch_size = batch_size
        self._next_at = 0.0
        self._task: asyncio.Task[None] | None = None

    async def run_due(self) -> None:
        """Start catching up if its time has come and it is not running; never wait for a batch.

        A lost database ends the catching up and raises DatabaseUnavailableError here, at the next call.
        """
        if self._task is not None:
            if not self._task.done():
                return
            task, self._task = self._task, None
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        loop = asyncio.get_running_loop()
        if loop.time() < self._next_at:
            return
        self._next_at = loop.time() + _INTERVAL_SECONDS
        self._task = asyncio.create_task(self._catch_up(), name="retention")

    async def _catch_up(self) -> None:
        """Batches until one comes back short, each followed by a pause as long as it took; any failure but a
        lost database is logged and counted, and ends the run."""
        while True:
            started = time.monotonic()
            try:
                full = await self.run_batch()
            except DatabaseUnavailableError:
                raise
            except Exception:
                LOOP_ERRORS.labels(loop="retention").inc()
                log.exception("retention_failed")
                return
            if not full:
                return
            await asyncio.sleep((time.monotonic() - started) * _PAUSE_PER_BATCH_SECOND)

    async def run_batch(self) -> bool:
        """Delete one batch; True when it came back full, so more may be due."""
        async with connection(self._pool) as conn:
            overrides = _overrides(await version_retentions(conn))
        if self._default is None and not overrides:
            return False
        async with transaction(self._pool) as conn:
            finished = await delete_finished(conn, self._default, overrides, self._batch_size)
        old_inbox = old_events = 0
        if self._default is not None:
            async with transaction(self._pool) as conn:
                rows = await delete_old_rows(conn, self._default, self._batch_size)
            old_inbox, old_events = rows.trigger_events, rows.events
        counts = {
            "executions": finished.executions,
            "email_logs": finished.email_logs,
            "webhook_logs": finished.webhook_logs,
            "trigger_events": finished.trigger_events + old_inbox,
            "event_log": old_events,
        }
        for table, count in counts.items():
            RETENTION_DELETED.labels(table=table).inc(count)
        if any(counts.values()):
            log.info("retention_deleted", **counts)
        return max(finished.roots, old_inbox, old_events) >= self._batch_size


def _overrides(versions: list[VersionRetention]) -> list[Override]:
    out: list[Override] = []
    for v in versions:
        try:
            seconds = _RETENTION.validate_python(v.retention).total_seconds()
        except ValidationError:
            log.warning("retention_override_invalid", workflow_id=str(v.workflow_id), version=v.version)
            continue
        out.append(Override(v.workflow_id, v.version, seconds))
    return out
