"""The event trigger: `POST /events` (or an application's INSERT) with a matching event type."""

from __future__ import annotations

from typing import Literal

from conveyor.event_types import EventType as EventType  # re-exported: the API validates event types with it
from conveyor.triggers.base import TriggerKind, TriggerModel


class EventTrigger(TriggerModel):
    """Receive every event of one type."""

    type: Literal["event"]
    event: EventType

    def event_type(self) -> str:
        """The event type this trigger receives."""
        return self.event


KIND = TriggerKind(EventTrigger)
