"""The event trigger: `POST /events` (or an application's INSERT) with a matching event type."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from conveyor.triggers.base import TriggerKind, TriggerModel

EventType = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,199}$")]


class EventTrigger(TriggerModel):
    """Receive every event of one type."""

    type: Literal["event"]
    event: EventType

    def event_type(self) -> str:
        """The event type this trigger receives."""
        return self.event


KIND = TriggerKind(EventTrigger)
