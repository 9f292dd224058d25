"""A cancel reaches the running step at once: the worker aborts it, commits nothing for it, starts no other."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from typing import Any

from structlog.testing import capture_logs

from conveyor.commands.operations import create_workflow
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow

CANCEL_WITHIN_SECONDS = 1.0


async def _start(api: ApiClient, definition: dict[str, object]) -> str:
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution = await (await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {}})).json()
    return str(execution["id"])


async def _logged(logs: list[MutableMapping[str, Any]], event: str, execution_id: str) -> MutableMapping[str, Any]:
    def found() -> list[MutableMapping[str, Any]]:
        return [e for e in logs if e["event"] == event and e.get("execution_id") == execution_id]

    return (await poll_until(found, f"{event} logged for {execution_id}", timeout_seconds=5))[0]


async def test_cancel_aborts_the_running_step_within_a_second_and_no_later_step_runs(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    execution_id = await _start(
        api,
        flow(
            {"id": "call", "type": "webhook", "url": webhook_peer.url},
            {"id": "after", "type": "action", "action": "noop"},
        ),
    )
    await webhook_peer.arrivals(1)
    loop = asyncio.get_running_loop()
    with capture_logs() as logs:
        asked = loop.time()
        response = await api.post(f"/executions/{execution_id}/cancel")
        assert (response.status, (await response.json())["state"]) == (200, "cancelled")
        await poll_until(lambda: webhook_peer.abandoned, "the worker to hang up", timeout_seconds=CANCEL_WITHIN_SECONDS)
        hung_up_after = loop.time() - asked
        cancelled = await _logged(logs, "step_cancelled", execution_id)
    assert hung_up_after < CANCEL_WITHIN_SECONDS
    assert cancelled["seconds"] < CANCEL_WITHIN_SECONDS

    async with db.acquire() as conn:
        steps = await conn.fetchval(
            "SELECT count(*) FROM execution_steps WHERE execution_id = $1", uuid.UUID(execution_id)
        )
        calls = await conn.fetch("SELECT error FROM webhook_logs WHERE execution_id = $1", uuid.UUID(execution_id))
    assert steps == 0, "the aborted step, or a later one, was committed"
    assert [c["error"] for c in calls] == [
        "cancelled: the step's timeout, a shutdown or a cancel of the execution ended the call"
    ]
    history = (await (await api.get(f"/executions/{execution_id}/history")).json())["items"]
    assert [(h["from"], h["to"], h["event"]) for h in history] == [
        ("idle", "running", "start"),
        ("running", "cancelled", "cancel"),
    ]
    assert len(webhook_peer.received) == 1


async def test_cancelling_a_parent_cancels_its_running_child_and_aborts_the_childs_step(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.hold()
    child = await create_workflow(db, flow({"id": "call", "type": "webhook", "url": webhook_peer.url}))
    parent_id = await _start(api, flow({"id": "sub", "type": "shared_flow", "flow": child.name}))
    await webhook_peer.arrivals(1)
    async with db.acquire() as conn:
        child_id = await conn.fetchval("SELECT id FROM executions WHERE parent_id = $1", uuid.UUID(parent_id))

    with capture_logs() as logs:
        response = await api.post(f"/executions/{parent_id}/cancel")
        assert (await response.json())["state"] == "cancelled"
        await poll_until(lambda: webhook_peer.abandoned, "the worker to hang up", timeout_seconds=CANCEL_WITHIN_SECONDS)
        await _logged(logs, "step_cancelled", str(child_id))

    child_now = await (await api.get(f"/executions/{child_id}")).json()
    assert child_now["state"] == "cancelled"
    assert child_now["finished_at"] is not None
    history = (await (await api.get(f"/executions/{child_id}/history")).json())["items"]
    last = history[-1]
    assert (last["from"], last["to"], last["event"]) == ("running", "cancelled", "cancel")
    assert last["detail"] == {"by": "operator", "actor": "anonymous", "cancelled_with": parent_id}


async def test_cancelling_a_parent_cancels_descendants_at_every_depth_and_leaves_ended_ones(
    api: ApiClient, db: Pool
) -> None:
    leaf = await create_workflow(db, flow({"id": "wait", "type": "delay", "duration": "1h"}))
    middle = await create_workflow(db, flow({"id": "sub", "type": "shared_flow", "flow": leaf.name}))
    root_id = await _start(api, flow({"id": "sub", "type": "shared_flow", "flow": middle.name}))
    async with db.acquire() as conn:
        # No worker runs here: shape the tree by hand, as the workers would leave it.
        middle_id, leaf_id, done_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            """
            INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, parent_id, dedupe_key,
                                    finished_at)
            VALUES ($1, $4, 1, 'delayed', 'sub', $6, 'a', NULL),
                   ($2, $5, 1, 'paused', 'wait', $1, 'b', NULL),
                   ($3, $5, 1, 'completed', NULL, $1, 'c', now())
            """,
            middle_id,
            leaf_id,
            done_id,
            middle.id,
            leaf.id,
            uuid.UUID(root_id),
        )
    response = await api.post(f"/executions/{root_id}/cancel")
    assert (await response.json())["state"] == "cancelled"
    async with db.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, state FROM executions WHERE id = ANY($1::uuid[])", [middle_id, leaf_id, done_id]
        )
        states = {r["id"]: r["state"] for r in rows}
        moves = await conn.fetch(
            "SELECT execution_id, from_state, to_state FROM execution_history WHERE event = 'cancel' "
            "AND execution_id <> $1 ORDER BY execution_id",
            uuid.UUID(root_id),
        )
    assert states == {middle_id: "cancelled", leaf_id: "cancelled", done_id: "completed"}
    assert {(m["execution_id"], m["from_state"], m["to_state"]) for m in moves} == {
        (middle_id, "delayed", "cancelled"),
        (leaf_id, "paused", "cancelled"),
    }
