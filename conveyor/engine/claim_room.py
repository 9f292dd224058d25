"""Room in a worker's slots for the executions a feed stage claims itself: the match stage claims the executions
its events wake, in the statement that wakes them, and the worker runs them at once."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence

from conveyor.store.claims import ClaimFor
from conveyor.store.executions import Execution


class ClaimRoom:
    """Sets the worker's free slots aside for one stage's claim, and starts what it claimed."""

    def __init__(
        self,
        owner: str,
        lease_seconds: float,
        provides: Sequence[str],
        free: Callable[[], int],
        start: Callable[[Execution], None],
    ) -> None:
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._provides = provides
        self._free = free
        self._start = start
        # Slots a stage's claim may fill: taken, so that the claim loop running meanwhile does not fill them too.
        self.set_aside = 0

    @contextlib.contextmanager
    def lend(self, most: int) -> Iterator[ClaimFor]:
        """Set up to `most` free slots aside while the block runs; the claim that may fill them."""
        room = max(0, min(self._free(), most))
        self.set_aside += room
        try:
            yield ClaimFor(self._owner, room, self._lease_seconds, self._provides)
        finally:
            self.set_aside -= room

    def start(self, claimed: Iterable[Execution]) -> None:
        """Run what a stage claimed (after its transaction committed)."""
        for ex in claimed:
            self._start(ex)
