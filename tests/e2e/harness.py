"""The parts end-to-end tests drive: `conveyor worker` processes and bounded waits on the database."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.poll import poll_until

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
        await poll_until(lambda: self.proc.poll() is not None, f"{self.name} (pid {self.pid}) to exit", timeout)
        return self.proc.wait()

    def logs(self) -> list[JSONObject]:
        """The JSON log lines written so far (other lines skipped)."""
        entries = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def events(self, event: str) -> list[JSONObject]:
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

    await poll_until(check, f"{count} registered worker(s)", DEADLINE_SECONDS)


async def executions_in_state(db: Pool, ids: list[uuid.UUID], state: str, timeout: float = DEADLINE_SECONDS) -> None:
    """Wait until every one of the executions is in `state`."""

    async def check() -> bool:
        async with db.acquire() as conn:
            done: int = await conn.fetchval(
                "SELECT count(*) FROM executions WHERE id = ANY($1::uuid[]) AND state = $2", ids, state
            )
        return done == len(ids)

    await poll_until(check, f"{len(ids)} execution(s) {state}", timeout)
