"""Spawned `conveyor` processes: start, wait until ready, measure, and always stop."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from bench.harness import Bench, process_stat
from conveyor.store import Pool
from testkit.poll import poll_until

Process = asyncio.subprocess.Process

STOP_GRACE_SECONDS = 10.0
READY_SECONDS = 30.0
# Settings a spawned process must not inherit from the shell running the suite.
_SCRUBBED = ("CONVEYOR_POLL_INTERVAL", "CONVEYOR_CONCURRENCY", "CONVEYOR_BATCH_SIZE", "CONVEYOR_API_TOKEN")


def conveyor_command() -> list[str]:
    """The installed `conveyor` console script next to this interpreter, or an equivalent."""
    script = Path(sys.executable).with_name("conveyor")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from conveyor.cli import main; main()"]


@contextlib.asynccontextmanager
async def spawn(bench: Bench, name: str, *args: str, env: dict[str, str] | None = None) -> AsyncIterator[Process]:
    """Run `conveyor <args>` on the bench database for the block, logging to <workdir>/<scenario>-<name>.log."""
    full_env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    full_env.update(
        {
            "DATABASE_URL": bench.dsn,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": bench.log_level,
            "CONVEYOR_SHUTDOWN_GRACE": "2",
            **(env or {}),
        }
    )
    log_path = bench.workdir / f"{bench.scenario}-{name}.log"
    with log_path.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *conveyor_command(),
            *args,
            env=full_env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        await stop(proc)


async def stop(proc: Process) -> None:
    """SIGTERM, then SIGKILL if it has not exited within the grace period."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_SECONDS)
        except TimeoutError:
            proc.kill()
    await proc.wait()


def check_alive(*procs: Process) -> None:
    """Raise if a spawned process has exited."""
    for proc in procs:
        if proc.returncode is not None:
            raise RuntimeError(
                f"conveyor process {proc.pid} exited with status {proc.returncode}; see bench/results/logs"
            )


async def wait_for_workers(pool: Pool, procs: list[Process]) -> None:
    """Wait until every spawned worker has registered itself (it claims right after)."""
    pids = [p.pid for p in procs]

    async def registered() -> bool:
        check_alive(*procs)
        async with pool.acquire() as conn:
            ready = await conn.fetchval("SELECT count(*) FROM workers WHERE pid = ANY($1) AND stopped_at IS NULL", pids)
        return bool(ready == len(procs))

    await poll_until(registered, f"workers {pids} to register", READY_SECONDS)


async def wait_for_http(proc: Process, url: str) -> None:
    """Wait until GET url answers 200."""
    async with aiohttp.ClientSession() as session:

        async def answers() -> bool:
            check_alive(proc)
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    return response.status == 200
            return False

        await poll_until(answers, f"{url} to answer 200", READY_SECONDS)


async def wait_until_finished(
    pool: Pool, total: int, procs: list[Process], seconds: float, interval_seconds: float = 0.25
) -> None:
    """Poll until `total` executions have finished (any terminal state); raise on timeout or a dead worker."""
    done = 0

    async def finished() -> bool:
        nonlocal done
        check_alive(*procs)
        async with pool.acquire() as conn:
            done = await conn.fetchval("SELECT count(*) FROM executions WHERE finished_at IS NOT NULL")
        return bool(done >= total)

    try:
        await poll_until(finished, f"{total} executions to finish", seconds, interval_seconds=interval_seconds)
    except TimeoutError:
        raise TimeoutError(f"only {done} of {total} executions finished within {seconds:.0f} s") from None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _status_kib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")


def rss_mb(pid: int) -> float:
    """Resident set size now, in MiB."""
    return _status_kib(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size, in MiB."""
    return _status_kib(pid, "VmHWM") / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    return process_stat(pid)[1]
