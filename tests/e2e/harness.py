"""The parts end-to-end tests drive: `conveyor worker` processes, a local webhook peer, bounded waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

import pytest
from aiohttp import web

from conveyor.store import Pool

# Every wait in these tests is bounded; nothing should need more than this.
DEADLINE_SECONDS = 60.0

WORKER_ENV = {
    "CONVEYOR_LEASE_SECONDS": "2",
    "CONVEYOR_CONCURRENCY": "20",
    "CONVEYOR_SHUTDOWN_GRACE": "5",
    "CONVEYOR_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
    "CONVEYOR_EMAIL_TRANSPORT": "log",
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
}


def _worker_command() -> list[str]:
    script = Path(sys.executable).with_name("conveyor")
    if script.is_file():
        return [str(script), "worker"]
    return [sys.executable, "-c", "from conveyor.cli import main; main()", "worker"]


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE_SECONDS) -> None:
    """Poll `check` until it holds; fail naming `what` when the deadline passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.05)


@dataclass
class WorkerProcess:
    """One `conveyor worker` process, its JSON log on disk."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log_file: IO[bytes]

    @property
    def pid(self) -> int:
        """The process id."""
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that ended it), None while it runs."""
        return self.proc.poll()

    def signal(self, sig: signal.Signals) -> None:
        """Send a signal, if it still runs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    async def wait(self, timeout: float = DEADLINE_SECONDS) -> int:
        """Wait for the process to end without blocking the event loop; return its exit code."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (code := self.proc.poll()) is None:
            if loop.time() >= deadline:
                raise TimeoutError(f"{self.name} (pid {self.pid}) still runs after {timeout:.0f}s")
            await asyncio.sleep(0.05)
        return code

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (other lines skipped)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def events(self, event: str) -> list[dict[str, Any]]:
        """The log entries of one event."""
        return [e for e in self.logs() if e.get("event") == event]

    async def worker_id(self, db: Pool) -> str:
        """The id this process registered in the workers table."""
        async with db.acquire() as conn:
            worker_id: str | None = await conn.fetchval("SELECT id FROM workers WHERE pid = $1", self.pid)
        assert worker_id is not None, f"{self.name} has not registered"
        return worker_id


def spawn_worker_process(name: str, log_path: Path, env: dict[str, str]) -> WorkerProcess:
    """Start `conveyor worker` with `env` added to this process's environment, logging to `log_path`."""
    log_file = log_path.open("wb")
    proc = subprocess.Popen(
        _worker_command(),
        env={**os.environ, **WORKER_ENV, **env},
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    return WorkerProcess(name, proc, log_path, log_file)


async def stop_worker_process(worker: WorkerProcess) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ten seconds; close its log."""
    worker.signal(signal.SIGTERM)
    try:
        await worker.wait(10)
    except TimeoutError:
        worker.signal(signal.SIGKILL)
        await worker.wait(10)
    finally:
        worker.log_file.close()


class SpawnWorker(Protocol):
    """Start a worker process with extra or overridden environment variables."""

    def __call__(self, name: str = ..., **env: str) -> WorkerProcess: ...


async def workers_registered(db: Pool, count: int) -> None:
    """Wait until `count` workers have registered themselves."""

    async def check() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM workers WHERE stopped_at IS NULL") >= count)

    await wait_until(check, f"{count} registered worker(s)")


@dataclass
class Received:
    """One request the webhook peer got."""

    key: str | None
    body: Any


@dataclass
class WebhookPeer:
    """A local HTTP endpoint that records every request's Idempotency-Key.

    `hang_first` holds the first request open (up to a minute, or until the peer stops);
    `delay_seconds` delays every other answer.
    """

    url: str = ""
    hang_first: bool = False
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    _release: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request, in arrival order."""
        return [r.key for r in self.received]

    async def handle(self, request: web.Request) -> web.Response:
        """Record the request, then answer 200 (after a hang or delay if configured)."""
        body = await request.json() if request.can_read_body else None
        self.received.append(Received(request.headers.get("Idempotency-Key"), body))
        if self.hang_first and len(self.received) == 1:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=60)
            return web.json_response({"late": True})
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        return web.json_response({"ok": True, "n": len(self.received)})

    def release(self) -> None:
        """Let a held request go."""
        self._release.set()

    async def arrivals(self, count: int) -> None:
        """Wait until at least `count` requests have arrived."""

        async def check() -> bool:
            return len(self.received) >= count

        await wait_until(check, f"{count} webhook request(s)")


async def executions_in_state(db: Pool, ids: list[uuid.UUID], state: str, timeout: float = DEADLINE_SECONDS) -> None:
    """Wait until every one of the executions is in `state`."""

    async def check() -> bool:
        async with db.acquire() as conn:
            done: int = await conn.fetchval(
                "SELECT count(*) FROM executions WHERE id = ANY($1::uuid[]) AND state = $2", ids, state
            )
        return done == len(ids)

    await wait_until(check, f"{len(ids)} execution(s) {state}", timeout)
