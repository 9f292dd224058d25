"""A cap on the requests of this process that wait at once for an execution to end (CONVEYOR_MAX_WAITS).

A waiting request holds a connection, a task and a database poll. Past the cap, a start that asked to wait is
refused before anything starts (429, `held`), and a hook delivery is accepted and answered at once, as if its
wait had run out (`slot`): a sender's delivery is never refused for want of a waiting place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from conveyor.errors import RateLimitedError

# A wait is at most 300 s, but one ends every few seconds under load; a client retries soon.
_RETRY_AFTER_SECONDS = 2


class TooManyWaitsError(RateLimitedError):
    """As many requests as CONVEYOR_MAX_WAITS allows are already waiting for executions to end."""

    code = "too_many_waits"


class Waits:
    """How many requests wait now, out of how many may."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting = 0

    @contextmanager
    def slot(self) -> Iterator[bool]:
        """Hold a place while waiting; True when there was one, False when the caller must answer at once."""
        if self.waiting >= self.limit:
            yield False
            return
        self.waiting += 1
        try:
            yield True
        finally:
            self.waiting -= 1

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold a place for the block, or raise TooManyWaitsError before anything is done."""
        with self.slot() as free:
            if not free:
                raise TooManyWaitsError(
                    f"{self.limit} requests are already waiting for executions to end (CONVEYOR_MAX_WAITS); retry "
                    f"after {_RETRY_AFTER_SECONDS}s, or start without 'wait' and follow /executions/{{id}}/events",
                    field="/wait",
                    retry_after_seconds=_RETRY_AFTER_SECONDS,
                )
            yield
