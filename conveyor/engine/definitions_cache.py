"""Parsed definitions by (workflow, version): versions never change, so each is parsed once."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from conveyor.definitions import WorkflowDefinition
from conveyor.nodes.kinds import parse_definition
from conveyor.store import Pool, connection
from conveyor.store.workflows import get_definition


class DefinitionCache:
    """A bounded cache of parsed workflow versions."""

    def __init__(self, pool: Pool, max_entries: int = 1024) -> None:
        self._pool = pool
        self._max = max_entries
        self._entries: OrderedDict[tuple[uuid.UUID, int], WorkflowDefinition] = OrderedDict()

    async def get(self, workflow_id: uuid.UUID, version: int) -> WorkflowDefinition:
        """The parsed definition of one workflow version."""
        key = (workflow_id, version)
        definition = self._entries.get(key)
        if definition is None:
            async with connection(self._pool) as conn:
                definition = parse_definition(await get_definition(conn, workflow_id, version))
            self._entries[key] = definition
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return definition
