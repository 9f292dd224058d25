"""Fencing: a worker that lost its lease changes nothing."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.history import list_steps
from testkit.peers import WebhookPeer
from testkit.poll import poll_until
from tests.conftest import logged
from tests.integration.conftest import flow, history_events, run_flow, wait_until_ended


async def test_a_worker_whose_lease_was_taken_commits_nothing(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer, logs: list[MutableMapping[str, Any]]
) -> None:
    webhook_peer.hold()
    ex = await run_flow(db, flow({"id": "call", "type": "webhook", "url": webhook_peer.url}))
    await webhook_peer.arrivals(1)
    async with db.acquire() as conn:
        # Another worker takes over, as it would after this one's lease lapsed.
        await conn.execute(
            "UPDATE executions SET lease_owner = 'thief', version = version + 1, "
            "wake_at = now() + interval '1 hour' WHERE id = $1",
            ex.id,
        )
    webhook_peer.release()
    # The worker has tried to commit the step's outcome, and found its lease gone.
    await poll_until(lambda: logged(logs, "lease_lost", execution_id=str(ex.id)), "the worker to log lease_lost")
    async with db.acquire() as conn:
        row = await conn.fetchrow("SELECT state, lease_owner FROM executions WHERE id = $1", ex.id)
        steps = await list_steps(conn, ex.id)
    assert row is not None
    assert (row["state"], row["lease_owner"]) == ("running", "thief")
    assert steps == []
    assert await history_events(db, ex.id) == ["start"]


async def test_the_wake_channel_comes_back_after_its_connection_is_killed(
    db: Pool, worker: Worker, logs: list[MutableMapping[str, Any]]
) -> None:
    # Kill the channel only once it listens: a connection killed before its LISTEN fails the worker's start-up.
    kill = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'conveyor-wake' AND state = 'idle' AND query LIKE 'LISTEN%'"
    )

    async def killed() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval(kill))

    await poll_until(killed, "the worker's wake channel to listen, then to be killed")
    await poll_until(lambda: logged(logs, "wake_channel_reconnected"), "the worker to listen again")
    ex = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
    # Without the NOTIFY the worker would sleep out its 30 s poll interval.
    assert (await wait_until_ended(db, ex.id, timeout=5)).state == "completed"
