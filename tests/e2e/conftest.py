"""End-to-end fixtures: worker processes on the test database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from conveyor.checker import check_history
from conveyor.store import Pool
from tests.e2e.harness import SpawnWorker, WorkerProcess, spawn_worker_process, stop_worker_process


@pytest.fixture
async def spawn_worker(database_url: str, db: Pool, tmp_path: Path) -> AsyncIterator[SpawnWorker]:
    """Start `conveyor worker` processes on a clean test database; every one is stopped (or killed) afterwards."""
    started: list[WorkerProcess] = []

    def spawn(name: str = "worker", **env: str) -> WorkerProcess:
        log_path = tmp_path / f"{name}-{len(started)}.log"
        worker = spawn_worker_process(name, log_path, {"DATABASE_URL": database_url, **env})
        started.append(worker)
        return worker

    try:
        yield spawn
    finally:
        for worker in started:
            await stop_worker_process(worker)
            # pytest shows this only for a failed test.
            tail = worker.log_path.read_text(errors="replace").splitlines()[-40:]
            print(f"--- {worker.name} (pid {worker.pid}, exit {worker.returncode}) ---", *tail, sep="\n")


@pytest.fixture(autouse=True)
async def history_checked(db: Pool) -> AsyncIterator[None]:
    """After every end-to-end test, the history checker finds every execution's walk legal."""
    yield
    report = await check_history(db)
    assert report.ok, report.summary()
