"""A worker started with CONVEYOR_WORKER_PORT serves its own /health and /metrics: its steps are counted there,
which the web process of a Procfile split cannot show."""

from __future__ import annotations

import json
import urllib.request
from contextlib import suppress

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.e2e.harness import SpawnWorker, executions_in_state
from tests.e2e.served import free_port
from tests.integration.conftest import flow


def _get(url: str) -> str | None:
    with suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
        return str(answer.read().decode())
    return None


async def test_a_worker_serves_its_own_health_and_metrics_on_its_port(db: Pool, spawn_worker: SpawnWorker) -> None:
    port = free_port()
    spawn_worker(CONVEYOR_WORKER_PORT=str(port))
    base = f"http://127.0.0.1:{port}"

    def live() -> dict[str, object] | None:
        text = _get(f"{base}/health")
        found = json.loads(text) if text else None
        return found if found and found.get("live_workers") == 1 else None

    health = await poll_until(live, "the worker's /health to count itself live", 60)
    assert health is not None
    assert health["status"] == "ok"

    workflow = await create_workflow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    execution, _ = await start_execution(db, str(workflow.id), {})
    await executions_in_state(db, [execution.id], "completed")
    metrics = _get(f"{base}/metrics") or ""
    assert 'conveyor_steps_total{node_type="action",result="completed"}' in metrics
