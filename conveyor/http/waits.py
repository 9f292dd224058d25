"""A cap on the requests of this process that wait at once for an execution to end.

A waiting request holds a socket and polls the database; past the cap (CONVEYOR_MAX_WAITS) a request that asked
to wait is answered at once with what is known, as if its wait had run out, so waits cannot pile up unbounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


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
