"""Reading a Server-Sent Events answer in tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Event:
    """One event, or a comment (event "comment", its text as data)."""

    event: str
    data: Any
    id: int | None = None


async def read_events(response: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """The events of a stream, as they arrive, until the server ends it."""
    fields: dict[str, str] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if line.startswith(":"):
            yield Event("comment", line[1:].strip())
        elif line:
            name, _, value = line.partition(":")
            fields[name] = value.lstrip(" ")
        elif fields:
            event_id = fields.get("id")
            yield Event(fields.get("event", "message"), json.loads(fields["data"]), int(event_id) if event_id else None)
            fields = {}


async def collect(response: aiohttp.ClientResponse, *, until: str | None = None) -> list[Event]:
    """Every event until the stream ends, or until (and including) the first of kind `until`."""
    events = []
    async for event in read_events(response):
        events.append(event)
        if event.event == until:
            break
    return events
