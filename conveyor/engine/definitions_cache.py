"""Parsed definitions by (workflow, version): versions never change, so each is read and parsed once."""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict

from conveyor.definitions import WorkflowDefinition
from conveyor.nodes.kinds import load_definition
from conveyor.store import Pool, connection
from conveyor.store.workflows import get_definition

_Key = tuple[uuid.UUID, int]


class DefinitionCache:
    """A bounded cache of parsed workflow versions; callers missing the same version share one read."""

    def __init__(self, pool: Pool, max_entries: int = 1024) -> None:
        self._pool = pool
        self._max = max_entries
        self._entries: OrderedDict[_Key, WorkflowDefinition] = OrderedDict()
        self._loading: dict[_Key, asyncio.Task[WorkflowDefinition]] = {}

    async def get(self, workflow_id: uuid.UUID, version: int) -> WorkflowDefinition:
        """The parsed definition of one workflow version."""
        key = (workflow_id, version)
        definition = self._entries.get(key)
        if definition is not None:
            self._entries.move_to_end(key)
            return definition
        loading = self._loading.get(key)
        if loading is None:
            # A batch of claimed executions of a new version all miss at once: one read serves them all.
            loading = self._loading[key] = asyncio.create_task(self._load(key), name="definition-load")
            loading.add_done_callback(lambda task: self._loaded(key, task))
        # One caller cancelled (its execution was) must not cancel the read the others wait for.
        return await asyncio.shield(loading)

    async def _load(self, key: _Key) -> WorkflowDefinition:
        async with connection(self._pool) as conn:
            definition = load_definition(await get_definition(conn, *key))
        self._entries[key] = definition
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return definition

    def _loaded(self, key: _Key, task: asyncio.Task[WorkflowDefinition]) -> None:
        self._loading.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have been cancelled meanwhile
