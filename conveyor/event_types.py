"""How an event type is written: the name events, event triggers, waits and cancel rules share."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

EventType = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.:/-]{0,199}$")]
