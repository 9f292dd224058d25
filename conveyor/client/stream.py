"""Reading a Server-Sent Events answer (`/executions/{id}/events`, `/events/stream`) as typed events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from conveyor.jsonvalue import JSONValue

_MAX_LINE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server event: `state` (the execution), `transition` (a history row) or `error`; its JSON data."""

    event: str
    data: JSONValue
    id: str | None = None


async def events(response: aiohttp.ClientResponse) -> AsyncIterator[StreamEvent]:
    """The events of an SSE answer until the server ends it; comments (keep-alives) are skipped."""
    name, event_id, data = "message", None, list[str]()
    while line_bytes := await response.content.readline():
        if len(line_bytes) > _MAX_LINE:
            raise ValueError("a server event line is longer than 1 MiB")
        line = line_bytes.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield StreamEvent(name, json.loads("\n".join(data)), event_id)
            name, event_id, data = "message", None, list[str]()
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "id":
            event_id = value
        elif field == "data":
            data.append(value)
