"""What a chaos round looked like while it ran: how many workers were up, and how late due work was."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.chaos_outage import DATABASE_DOWN
from bench.crew import Crew
from bench.harness import Bench, percentile
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
            with contextlib.suppress(*DATABASE_DOWN):
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


def worker_log_marks(bench: Bench, workers: int) -> dict[Path, int]:
    """How long each worker log is now: a round counts only what is logged after."""
    logs = [bench.workdir / f"{bench.scenario}-worker{slot}.log" for slot in range(workers)]
    return {log: log.stat().st_size if log.exists() else 0 for log in logs}


def fired_since(marks: dict[Path, int]) -> Counter[str]:
    """Failpoints fired since the marks, by point, as the workers logged them."""
    fired: Counter[str] = Counter()
    for log, mark in marks.items():
        with log.open("rb") as f:
            f.seek(mark)
            for line in f:
                if b'"failpoint_fired"' in line:
                    fired[json.loads(line)["point"]] += 1
    return fired
