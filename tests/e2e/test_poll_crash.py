"""A worker that dies while it records a table poll loses and doubles nothing: the next one takes every row once."""

from __future__ import annotations

import uuid

from conveyor.commands.operations import create_workflow
from conveyor.commands.triggers import create_trigger
from conveyor.failpoints import CRASH_EXIT_STATUS
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.e2e.harness import DEADLINE_SECONDS, SpawnWorker


async def test_a_worker_killed_inside_a_poll_leaves_every_row_to_the_next_one_started_once(
    db: Pool, spawn_worker: SpawnWorker
) -> None:
    table = f"crash_{uuid.uuid4().hex[:8]}"
    async with db.acquire() as conn:
        await conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, email text NOT NULL);"
            f" GRANT SELECT ON {table} TO conveyor_poll;"
            f" INSERT INTO {table} (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 250) g"
        )
    await create_workflow(
        db, {"name": "welcome", "start": "a", "nodes": [{"id": "a", "type": "action", "action": "noop"}]}
    )
    definition = {"type": "poll", "table": table, "cursor": "id", "interval": "1s", "batch": 100, "start": "all"}
    trigger = await create_trigger(db, "welcome", definition)

    # It reads the first batch and writes its rows and cursor, then dies (as under SIGKILL) before the commit.
    crashing = spawn_worker("crashing", CONVEYOR_FAILPOINTS="in_poll:crash")
    assert await crashing.wait() == CRASH_EXIT_STATUS
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM trigger_events") == 0
        assert await conn.fetchval("SELECT cursor FROM triggers WHERE id = $1", trigger.id) is None
        # its claim would lapse after the poll lease (60 s); let it lapse now
        await conn.execute("UPDATE triggers SET next_run_at = now() WHERE id = $1", trigger.id)

    spawn_worker("successor")

    async def all_started() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(*) FROM executions") == 250)

    await poll_until(all_started, "every row to start", DEADLINE_SECONDS)
    async with db.acquire() as conn:
        emails = await conn.fetch("SELECT input->>'email' AS email FROM executions WHERE trigger_id = $1", trigger.id)
    assert sorted(r["email"] for r in emails) == sorted(f"u{g}@example.com" for g in range(1, 251))
