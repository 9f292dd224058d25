"""What every scenario shares: the figures it reports, the database it runs on, small statistics."""

from __future__ import annotations

import contextlib
import os
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg

from bench.cluster import Cluster
from conveyor.store import Pool
from conveyor.store.maintenance import truncate_runtime_tables


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number."""

    scenario: str
    name: str
    value: float
    unit: str

    def line(self) -> str:
        """The printed form: `name value unit`."""
        return f"{self.name} {self.value:.6g} {self.unit}"


@dataclass(frozen=True, slots=True)
class ChaosOptions:
    """What `python -m bench chaos` is asked for beyond its defaults."""

    rounds: int | None = None  # None: 10, or 1 under --quick
    pg_restarts: int = 0  # PostgreSQL restarts spread over each round
    ambiguous_commits: bool = False  # 5 % of step commits fail, 5 % commit and then lose the answer


@dataclass(slots=True)
class Bench:
    """The run's shared state: database, options, and the figures so far."""

    dsn: str
    pool: Pool
    quick: bool
    workdir: Path
    log_level: str = "INFO"
    chaos: ChaosOptions = field(default_factory=ChaosOptions)
    cluster: Cluster | None = None  # the embedded PostgreSQL, when the bench started one (it may restart it)
    scenario: str = ""
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, dict[str, object]] = field(default_factory=dict)

    def record(self, name: str, value: float, unit: str) -> None:
        """Keep a figure and print it at once."""
        figure = Figure(self.scenario, name, float(value), unit)
        self.figures.append(figure)
        print(figure.line(), flush=True)

    def note(self, key: str, value: object) -> None:
        """Keep context about the current scenario (counts, settings) for the JSON file only."""
        self.notes.setdefault(self.scenario, {})[key] = value

    def value(self, name: str) -> float | None:
        """A figure recorded earlier in this run, if any."""
        return next((f.value for f in reversed(self.figures) if f.name == name), None)

    def size(self, full: int, quick: int) -> int:
        """A count, shrunk under --quick."""
        return quick if self.quick else full

    def as_json(self) -> list[dict[str, object]]:
        """The figures, as JSON-ready dicts."""
        return [asdict(f) for f in self.figures]


async def truncate(pool: Pool) -> None:
    """Empty every table conveyor writes (the seeded email templates stay), then checkpoint."""
    async with pool.acquire() as conn:
        await truncate_runtime_tables(conn)
    await checkpoint(pool)


async def checkpoint(pool: Pool) -> None:
    """Flush dirty pages now, so a background checkpoint does not land inside a measurement."""
    async with pool.acquire() as conn:
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CHECKPOINT")


def host_busy_seconds() -> float:
    """CPU seconds this host's cores have spent busy since boot (user..softirq; not idle, iowait or steal)."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


async def server_cpu_seconds(pool: Pool) -> float | None:
    """CPU seconds the PostgreSQL server's processes (postmaster, backends, WAL writer…) have used so far;
    None when the server is not a process of this host we may read (a remote DATABASE_URL).

    A backend that has exited is no longer counted: call it around a window in which the pool's connections
    and the workers' stay open."""
    async with pool.acquire() as conn:
        try:
            data = await conn.fetchval("SHOW data_directory")
        except asyncpg.InsufficientPrivilegeError:
            return None
    return _process_tree_cpu_seconds(Path(data))


def _process_tree_cpu_seconds(data: Path) -> float | None:
    try:
        postmaster = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    seconds = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent, cpu = process_stat(int(entry.name))
        except OSError:
            continue  # gone meanwhile
        if int(entry.name) == postmaster or parent == postmaster:
            seconds += cpu
    return seconds


def process_stat(pid: int) -> tuple[int, float]:
    """A process's parent pid, and the user plus system CPU seconds it has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolated linearly; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median; NaN when empty."""
    return statistics.median(values) if values else float("nan")
