"""Parsed triggers by (trigger, version): a version never changes, so each is parsed, and its filter compiled, once."""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict

from conveyor.triggers.base import TriggerModel
from conveyor.triggers.kinds import parse_trigger


class TriggerCache:
    """A bounded cache of parsed trigger versions."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._entries: OrderedDict[tuple[uuid.UUID, int], TriggerModel] = OrderedDict()

    def get(self, trigger_id: uuid.UUID, version: int, definition: str) -> TriggerModel:
        """The parsed trigger of this version; `definition` (its stored JSON text) is read only on a miss."""
        key = (trigger_id, version)
        trigger = self._entries.get(key)
        if trigger is None:
            trigger = parse_trigger(json.loads(definition))
            self._entries[key] = trigger
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return trigger
