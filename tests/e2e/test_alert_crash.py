"""A worker that dies at the moment an execution fails starts its alert flow exactly once: the failure and the
alert commit together, under the failure's dedupe key, whether the crash comes before the commit or after it."""

from __future__ import annotations

import pytest

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.failpoints import CRASH_EXIT_STATUS
from conveyor.store import Pool
from tests.e2e.harness import SpawnWorker, executions_in_state


@pytest.mark.parametrize("point", ["in_commit", "after_commit"])
async def test_the_alert_flow_starts_once_when_the_worker_dies_as_the_execution_fails(
    db: Pool, spawn_worker: SpawnWorker, point: str
) -> None:
    pager = await create_workflow(
        db, {"name": "pager", "start": "page", "nodes": [{"id": "page", "type": "action", "action": "noop"}]}
    )
    fragile = {
        "name": "fragile",
        "start": "bad",
        "on_failure": {"flow": "pager"},
        "nodes": [{"id": "bad", "type": "transform", "set": {"x": {"rule": {"throw": "boom"}}}}],
    }
    await create_workflow(db, fragile)
    failing, _ = await start_execution(db, "fragile", {"who": "ada"})

    crashing = spawn_worker("crashing", CONVEYOR_FAILPOINTS=f"{point}:crash")
    assert await crashing.wait() == CRASH_EXIT_STATUS
    spawn_worker("successor")
    await executions_in_state(db, [failing.id], "failed")
    async with db.acquire() as conn:
        alerts = await conn.fetch("SELECT id, input FROM executions WHERE workflow_id = $1", pager.id)
    [alert] = alerts
    await executions_in_state(db, [alert["id"]], "completed")
    assert alert["input"]["execution_id"] == str(failing.id)
    assert alert["input"]["input"] == {"who": "ada"}
