"""A cap on requests held open waiting for an execution to end (`wait`): each holds a connection and a task."""

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
    """Admit at most `limit` waiting requests at once in this process; past it, TooManyWaitsError."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._held = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold one place for the block, or raise TooManyWaitsError before anything is done."""
        if self._held >= self._limit:
            raise TooManyWaitsError(
                f"{self._limit} requests are already waiting for executions to end (CONVEYOR_MAX_WAITS); "
                f"retry after {_RETRY_AFTER_SECONDS}s, or start without 'wait' and follow /executions/{{id}}/events",
                field="/wait",
                retry_after_seconds=_RETRY_AFTER_SECONDS,
            )
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
