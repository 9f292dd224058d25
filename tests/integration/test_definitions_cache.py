"""The definition cache: executions of a version none has run yet share one read of it."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from conveyor.commands.operations import create_workflow
from conveyor.engine.definitions_cache import DefinitionCache
from conveyor.errors import NotFoundError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn, Pool, workflows
from tests.integration.conftest import flow

_DEFINITION = flow({"id": "a", "type": "action", "action": "noop"})


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[uuid.UUID, int]]:
    """Every read the cache makes of the database, counted on the way to the real one."""
    seen: list[tuple[uuid.UUID, int]] = []
    real = workflows.get_definition

    async def counted(conn: Conn, workflow_id: uuid.UUID, version: int) -> JSONObject:
        seen.append((workflow_id, version))
        return await real(conn, workflow_id, version)

    monkeypatch.setattr("conveyor.engine.definitions_cache.get_definition", counted)
    return seen


async def test_a_batch_missing_one_version_reads_it_once(db: Pool, reads: list[tuple[uuid.UUID, int]]) -> None:
    workflow = await create_workflow(db, _DEFINITION)
    cache = DefinitionCache(db)
    found = await asyncio.gather(*(cache.get(workflow.id, 1) for _ in range(50)))
    assert {d.name for d in found} == {workflow.name}
    assert reads == [(workflow.id, 1)]
    await cache.get(workflow.id, 1)
    assert len(reads) == 1


async def test_a_failed_read_fails_its_waiters_and_the_next_caller_reads_again(
    db: Pool, reads: list[tuple[uuid.UUID, int]]
) -> None:
    workflow = await create_workflow(db, _DEFINITION)
    cache = DefinitionCache(db)
    results = await asyncio.gather(*(cache.get(workflow.id, 2) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, NotFoundError) for r in results)
    assert len(reads) == 1
    with pytest.raises(NotFoundError):
        await cache.get(workflow.id, 2)
    assert len(reads) == 2


async def test_a_cancelled_caller_leaves_the_shared_read_to_the_others(
    db: Pool, reads: list[tuple[uuid.UUID, int]]
) -> None:
    workflow = await create_workflow(db, _DEFINITION)
    cache = DefinitionCache(db)
    first = asyncio.create_task(cache.get(workflow.id, 1))
    second = asyncio.create_task(cache.get(workflow.id, 1))
    await asyncio.sleep(0)
    first.cancel()
    assert (await second).name == workflow.name
    with pytest.raises(asyncio.CancelledError):
        await first
    assert reads == [(workflow.id, 1)]
