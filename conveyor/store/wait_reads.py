"""Reads of parked waits, batched: the waits asked for on one turn of the event loop go out as one statement.

A burst of events wakes many waits, and one claim takes their executions together; each wait_for_event node
then reads how its wait was closed. One statement a read made a resumed wait cost a round trip of its own
beside its share of the claim and the group commit (a start costs only those shares), so waits resumed at
half the rate the same worker starts executions. Read together, the claimed batch costs one round trip; a wait
the match stage closed and claimed in this process costs none (`know`).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass

from conveyor.store import Pool, connection
from conveyor.store.event_waits import WaitState, find_waits

# At most this many pairs in one statement; a larger burst goes out as several.
MAX_BATCH = 1000
# Waits known closed, kept at most (one entry an execution claimed by the match stage, taken when it runs).
MAX_KNOWN = 10_000


@dataclass(frozen=True, slots=True)
class _Asked:
    key: tuple[uuid.UUID, int]
    answer: asyncio.Future[WaitState | None]


class WaitReads:
    """Finds parked waits for the steps of one worker, the reads of one loop turn in one statement."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._queue: list[_Asked] = []
        self._kick_pending = False
        self._reads: set[asyncio.Task[None]] = set()
        self._known: dict[tuple[uuid.UUID, int], WaitState] = {}

    def know(self, execution_id: uuid.UUID, visit: int, state: WaitState) -> None:
        """Remember how a wait was closed (by the match stage that closed it): its node's next read is answered
        without a statement. A closed wait never changes, so what is remembered stays true."""
        if len(self._known) >= MAX_KNOWN:
            self._known.clear()
        self._known[(execution_id, visit)] = state

    async def find(self, execution_id: uuid.UUID, visit: int) -> WaitState | None:
        """The wait this visit parked, if it did, read with whatever else is asked for on this turn."""
        known = self._known.pop((execution_id, visit), None)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        asked = _Asked((execution_id, visit), loop.create_future())
        self._queue.append(asked)
        if not self._kick_pending:
            self._kick_pending = True
            loop.call_soon(self._kick)
        return await asked.answer

    def _kick(self) -> None:
        self._kick_pending = False
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            task = asyncio.create_task(self._read(batch), name="wait-reads")
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)

    async def _read(self, batch: list[_Asked]) -> None:
        try:
            async with connection(self._pool) as conn:
                found = await find_waits(conn, [a.key for a in batch])
        except Exception as exc:  # noqa: BLE001 - every step of the batch gets the read's failure
            for asked in batch:
                if not asked.answer.done():
                    asked.answer.set_exception(exc)
            return
        for asked in batch:
            if not asked.answer.done():
                asked.answer.set_result(found.get(asked.key))
