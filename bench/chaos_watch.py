"""What a chaos round looked like while it ran: how many workers were up, and how late due work was."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bench.crew import Crew
from bench.harness import percentile
from conveyor.errors import DatabaseUnavailableError
from conveyor.store.recovery import backlog

SAMPLE_SECONDS = 0.2


@dataclass(slots=True)
class Watch:
    """Samples taken every SAMPLE_SECONDS: workers running their loop, and the oldest due wake-up's lateness."""

    up: list[int] = field(default_factory=list)
    lateness: list[float] = field(default_factory=list)

    def line(self) -> str:
        """One printed line."""
        share = [100 * sum(min(n, 2) == k for n in self.up) / max(len(self.up), 1) for k in range(3)]
        late = self.lateness
        return (
            f"workers up 0 / 1 / 2+: {share[0]:.0f} / {share[1]:.0f} / {share[2]:.0f} % of the time;"
            f" oldest due wake-up late p50 {percentile(late, 50):.2f}s p99 {percentile(late, 99):.2f}s"
        )


@contextlib.asynccontextmanager
async def watch(team: Crew) -> AsyncIterator[Watch]:
    """Sample the round for the block."""
    seen = Watch()

    async def sample() -> None:
        while True:
            with contextlib.suppress(DatabaseUnavailableError, OSError):
                seen.up.append(len(await team.up()))
                async with team.bench.pool.acquire() as conn:
                    seen.lateness.append((await backlog(conn, 0.0)).worst_lateness_seconds)
            await asyncio.sleep(SAMPLE_SECONDS)

    task = asyncio.create_task(sample())
    try:
        yield seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
