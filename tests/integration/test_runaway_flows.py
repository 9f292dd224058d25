"""A workflow that calls itself cannot run away: shared flows nest at most CONVEYOR_MAX_FLOW_DEPTH deep, and a
cancel of any ancestor reaches every descendant, a child whose creation was under way included."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

from conveyor.commands.operations import create_workflow, operate, start_execution, update_workflow
from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.jsonvalue import JSONObject
from conveyor.statemachines import TERMINAL_STATES
from conveyor.store import Pool
from conveyor.store.executions import NewExecution, insert_execution
from testkit.poll import poll_until
from tests.integration.conftest import flow, running_worker, wait_until_ended


async def _self_calling(db: Pool, **extra: JSONObject) -> uuid.UUID:
    """A workflow whose one node runs the workflow itself; its id."""
    name = f"selfie-{uuid.uuid4().hex[:8]}"
    workflow = await create_workflow(db, flow({"id": "again", "type": "action", "action": "noop"}, name=name))
    await update_workflow(db, name, flow({"id": "again", "type": "shared_flow", "flow": name, **extra}, name=name))
    return workflow.id


async def _states(db: Pool, workflow_id: uuid.UUID) -> list[str]:
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT state FROM executions WHERE workflow_id = $1", workflow_id)
    return [r["state"] for r in rows]


async def test_a_self_calling_flow_stops_at_the_depth_cap_and_every_level_fails_without_retrying(
    db: Pool, worker: Worker
) -> None:
    retry: JSONObject = {"max_attempts": 3, "backoff": "fixed", "delay": "50ms", "jitter": False}
    workflow_id = await _self_calling(db, retry=retry)
    root, _ = await start_execution(db, str(workflow_id), {})
    ended = await wait_until_ended(db, root.id, timeout=30)
    assert ended.state == "failed"
    assert isinstance(ended.error, dict)
    assert ended.error["code"] == "flow_too_deep"
    states = await _states(db, workflow_id)
    assert states == ["failed"] * 11  # the root and ten levels below it, each tried once
    async with db.acquire() as conn:
        deepest = await conn.fetchval(
            "SELECT error FROM executions WHERE workflow_id = $1 AND error->'details'->>'setting' IS NOT NULL",
            workflow_id,
        )
    assert "CONVEYOR_MAX_FLOW_DEPTH (10)" in deepest["message"]


async def test_a_cancel_reaches_a_child_whose_creation_commits_while_it_runs(db: Pool) -> None:
    workflow = await create_workflow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    root, _ = await start_execution(db, str(workflow.id), {})

    def child_of(parent: uuid.UUID) -> NewExecution:
        return NewExecution(workflow.id, 1, "a", {}, dedupe_key=uuid.uuid4().hex, parent_id=parent, parent_node="a")

    async with db.acquire() as conn:
        child, _ = await insert_execution(conn, child_of(root.id))
    async with db.acquire() as spawner:
        # The child's worker commits its step and starts a grandchild, in one transaction, as the cancel runs.
        spawning = spawner.transaction()
        await spawning.start()
        await spawner.execute("UPDATE executions SET version = version + 1 WHERE id = $1", child.id)
        await insert_execution(spawner, child_of(child.id))
        cancel = asyncio.create_task(operate(db, root.id, "cancel"))

        async def cancel_waits() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))

        await poll_until(cancel_waits, "the cancel to wait for the spawning child's row")
        await spawning.commit()
        await cancel
    assert await _states(db, workflow.id) == ["cancelled"] * 3


async def test_cancelling_the_root_of_a_running_self_calling_flow_ends_every_execution(
    db: Pool, database_url: str, settings: Settings
) -> None:
    workflow_id = await _self_calling(db)
    deep = dataclasses.replace(settings, max_flow_depth=1_000_000)
    async with running_worker(db, database_url, deep):
        root, _ = await start_execution(db, str(workflow_id), {})

        async def grown() -> bool:
            return len(await _states(db, workflow_id)) >= 20

        await poll_until(grown, "the flow to nest 20 deep")
        await operate(db, root.id, "cancel")

        async def all_ended() -> bool:
            return all(state in TERMINAL_STATES for state in await _states(db, workflow_id))

        # Nothing unfinished is left, so nothing can start another execution.
        await poll_until(all_ended, "every execution of the flow to end")
    assert set(await _states(db, workflow_id)) == {"cancelled"}
