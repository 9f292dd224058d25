"""A crew of supervised `conveyor worker` processes: each one that dies is noted and started again at once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from bench import processes
from bench.harness import Bench
from conveyor.failpoints import CRASH_EXIT_STATUS
from conveyor.statemachines import RUNNING
from conveyor.store import Pool
from testkit.poll import poll_until

_WORKER_ID = "SELECT id FROM workers WHERE pid = $1 ORDER BY started_at DESC LIMIT 1"
_REGISTERED = "SELECT pid FROM workers WHERE pid = ANY($1::int[]) AND stopped_at IS NULL"
# From each process's spawn to its registration (then it recovers, listens and claims).
_STARTS = """
SELECT extract(epoch FROM w.started_at - s.at)::float8 FROM workers w
JOIN unnest($1::int[], $2::timestamptz[]) AS s(pid, at) ON s.pid = w.pid
"""
# What the dead worker held when it died: nobody else can have taken these yet (its lease still runs).
_HELD = f"SELECT id, wake_at FROM executions WHERE lease_owner = $1 AND state = '{RUNNING}'"


@dataclass(frozen=True, slots=True)
class Exit:
    """A worker process that ended while the crew ran: how, when, and what it held.

    `at` is this host's clock when the supervisor saw the process end, the database's clock being the same
    host's here; it is a measurement, never a decision the engine makes.
    """

    worker_id: str | None
    returncode: int
    at: datetime
    held: list[uuid.UUID]
    lease_ends: list[datetime]  # when each held lease lapses (the database's clock), as `held`

    @property
    def cause(self) -> str:
        """killed (SIGKILL), failpoint (a failpoint crash), or unexpected."""
        if self.returncode == -signal.SIGKILL:
            return "killed"
        return "failpoint" if self.returncode == CRASH_EXIT_STATUS else "unexpected"


@dataclass(slots=True)
class Crew:
    """`size` worker processes on the bench database, each restarted whenever it dies, until `stop`."""

    bench: Bench
    size: int
    env: dict[str, str]
    exits: list[Exit] = field(default_factory=list)
    _procs: dict[int, processes.Process] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False
    _spawned_at: dict[int, datetime] = field(default_factory=dict)  # by pid

    async def start(self) -> None:
        """Start every worker and wait until each has registered."""
        self._tasks = [asyncio.create_task(self._supervise(slot)) for slot in range(self.size)]
        await poll_until(lambda: len(self._procs) == self.size, "the crew to spawn", 30)
        await processes.wait_for_workers(self.bench.pool, list(self._procs.values()))

    def running(self) -> list[processes.Process]:
        """The worker processes alive now."""
        return [p for p in self._procs.values() if p.returncode is None]

    async def up(self) -> list[processes.Process]:
        """The workers alive and registered (they claim right after registering)."""
        procs = self.running()
        async with self.bench.pool.acquire() as conn:
            registered = {r["pid"] for r in await conn.fetch(_REGISTERED, [p.pid for p in procs])}
        return [p for p in procs if p.pid in registered]

    async def kill_one(self, leave: int = 1) -> bool:
        """SIGKILL a running worker chosen at random while at least `leave` others run to take its work over;
        False when fewer run their loop (the rest are dead or still starting)."""
        up = await self.up()
        if len(up) <= leave:
            return False
        random.choice(up).send_signal(signal.SIGKILL)
        return True

    def check(self) -> None:
        """Raise what broke a supervisor (a crew that stopped restarting would fake a quiet run)."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception():
                raise RuntimeError("a worker supervisor failed") from task.exception()

    async def stop(self) -> None:
        """Stop restarting, and stop every worker (SIGTERM, then SIGKILL)."""
        self._stopping = True
        await asyncio.gather(*(processes.stop(p) for p in self._procs.values()))
        await asyncio.gather(*self._tasks)

    async def _supervise(self, slot: int) -> None:
        while not self._stopping:
            spawned_at = datetime.now(UTC)
            async with processes.spawn(self.bench, f"worker{slot}", "worker", env=self.env) as proc:
                self._spawned_at[proc.pid] = spawned_at
                self._procs[slot] = proc
                returncode = await proc.wait()
                died_at = datetime.now(UTC)
            if not self._stopping:
                self.exits.append(await _exit(self.bench.pool, proc.pid, returncode, died_at))

    async def start_seconds(self) -> list[float]:
        """For each worker process started, the seconds from its spawn to its registration."""
        async with self.bench.pool.acquire() as conn:
            rows = await conn.fetch(_STARTS, list(self._spawned_at), list(self._spawned_at.values()))
        return [r[0] for r in rows]


async def _exit(pool: Pool, pid: int, returncode: int, at: datetime) -> Exit:
    async with pool.acquire() as conn:
        worker_id: str | None = await conn.fetchval(_WORKER_ID, pid)
        rows = await conn.fetch(_HELD, worker_id)
    return Exit(worker_id, returncode, at, [r["id"] for r in rows], [r["wake_at"] for r in rows])


@contextlib.asynccontextmanager
async def crew(bench: Bench, size: int, env: dict[str, str]) -> AsyncIterator[Crew]:
    """A started crew for the block, stopped afterwards."""
    team = Crew(bench, size, env)
    try:
        await team.start()
        yield team
    finally:
        await team.stop()
