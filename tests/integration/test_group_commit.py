"""Group commit: many executions' steps in one statement, each fenced on its own lease."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import MutableMapping
from typing import Any

import asyncpg
from prometheus_client import REGISTRY

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.engine.claim import claim_due
from conveyor.engine.group_commit import CommitGroup
from conveyor.engine.outcome import plan_success
from conveyor.nodes.base import Completed
from conveyor.nodes.kinds import parse_definition
from conveyor.store import Pool
from conveyor.store.executions import Execution
from conveyor.store.steps import Committed, UnstorableResultError
from testkit.poll import poll_until
from tests.conftest import logged
from tests.integration.conftest import flow, history_events

_OWNER = "group-test"
_DEFINITION = flow({"id": "a", "type": "action", "action": "noop"}, {"id": "b", "type": "action", "action": "noop"})


async def _claimed(pool: Pool, count: int) -> list[Execution]:
    workflow = await create_workflow(pool, _DEFINITION)
    for _ in range(count):
        await start_execution(pool, str(workflow.id), {})
    claimed = await claim_due(pool, _OWNER, count, 30.0)
    assert len(claimed) == count
    return claimed


def _groups() -> tuple[float, float]:
    count = REGISTRY.get_sample_value("conveyor_commit_group_size_count") or 0.0
    total = REGISTRY.get_sample_value("conveyor_commit_group_size_sum") or 0.0
    return count, total


async def test_steps_ending_together_are_written_in_one_group_and_a_lost_lease_refuses_only_its_own(
    db: Pool,
) -> None:
    claimed = await _claimed(db, 20)
    node = parse_definition(_DEFINITION).node("a")
    commits = [plan_success(ex, _OWNER, node, Completed(output={"n": i}), None).commit for i, ex in enumerate(claimed)]
    stale = claimed[7]
    commits[7] = dataclasses.replace(commits[7], lease=dataclasses.replace(commits[7].lease, version=stale.version - 1))
    group = CommitGroup(db)
    before = _groups()

    results = await asyncio.gather(*(group.commit(c) for c in commits))

    after = _groups()
    assert (after[0] - before[0], after[1] - before[1]) == (1.0, 20.0), "the 20 commits went out as one group"
    assert results[7] is None
    assert all(isinstance(r, Committed) for i, r in enumerate(results) if i != 7)
    async with db.acquire() as conn:
        rows = {
            r["id"]: r
            for r in await conn.fetch(
                "SELECT id, current_node, version, context FROM executions WHERE id = ANY($1)",
                [ex.id for ex in claimed],
            )
        }
        steps = await conn.fetchval(
            "SELECT count(*) FROM execution_steps WHERE execution_id = ANY($1)", [ex.id for ex in claimed]
        )
    assert steps == 19
    for i, ex in enumerate(claimed):
        row = rows[ex.id]
        if i == 7:
            assert (row["current_node"], row["version"]) == ("a", ex.version)
            assert await history_events(db, ex.id) == ["start"]
        else:
            assert (row["current_node"], row["version"]) == ("b", ex.version + 1)
            assert row["context"]["a"]["output"] == {"n": i}
            assert await history_events(db, ex.id) == ["start", "step_ok", "advance"]


async def test_an_unstorable_result_fails_its_own_commit_and_the_rest_of_its_group_lands(db: Pool) -> None:
    claimed = await _claimed(db, 5)
    node = parse_definition(_DEFINITION).node("a")
    # PostgreSQL's jsonb refuses a NUL character: the statement fails, for the whole group at first.
    outputs = [{"ok": i} if i != 2 else {"bad": "\u0000"} for i in range(5)]
    commits = [
        plan_success(ex, _OWNER, node, Completed(output=o), None).commit for ex, o in zip(claimed, outputs, strict=True)
    ]
    group = CommitGroup(db)

    results = await asyncio.gather(*(group.commit(c) for c in commits), return_exceptions=True)

    assert isinstance(results[2], UnstorableResultError)
    assert all(isinstance(r, Committed) for i, r in enumerate(results) if i != 2)
    assert await history_events(db, claimed[2].id) == ["start"]
    assert await history_events(db, claimed[0].id) == ["start", "step_ok", "advance"]


async def test_a_group_rolled_back_by_a_deadlock_is_written_again(
    db: Pool, logs: list[MutableMapping[str, Any]]
) -> None:
    claimed = await _claimed(db, 20)
    node = parse_definition(_DEFINITION).node("a")
    commits = [plan_success(ex, _OWNER, node, Completed(output={"n": i}), None).commit for i, ex in enumerate(claimed)]
    group = CommitGroup(db)
    async with db.acquire() as other:
        # Another statement holds the group's last row; once the group waits for it, it asks for the first.
        tx = other.transaction()
        await tx.start()
        await other.execute("UPDATE executions SET updated_at = now() WHERE id = $1", claimed[-1].id)
        written = asyncio.gather(*(group.commit(c) for c in commits))
        await poll_until(lambda: _waiting_for_a_lock(db), "the group to wait for the held row")
        with contextlib.suppress(asyncpg.DeadlockDetectedError):
            await other.execute("UPDATE executions SET updated_at = now() WHERE id = $1", claimed[0].id)
        await tx.rollback()
        results = await written
    assert all(isinstance(r, Committed) for r in results)
    assert logged(logs, "commit_group_deadlock"), "the group was not the deadlock's victim"
    for ex in claimed:
        assert await history_events(db, ex.id) == ["start", "step_ok", "advance"]


async def _waiting_for_a_lock(pool: Pool) -> bool:
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH c AS%'"
        )
    return bool(waiting)
