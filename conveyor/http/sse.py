"""A Server-Sent Events answer: named events with JSON data and optional ids, and comments."""

from __future__ import annotations

import json

from aiohttp import web

from conveyor.http.shapes import json_default
from conveyor.jsonvalue import JSONValue

_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass events through as they come
}


class EventStream:
    """An open text/event-stream answer; writes raise ConnectionResetError once the client has gone."""

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response

    @classmethod
    async def open(cls, request: web.Request) -> EventStream:
        """Send the headers; after this, errors can only be told as events."""
        response = web.StreamResponse(headers=_HEADERS)
        await response.prepare(request)
        return cls(response)

    async def send(self, event: str, data: JSONValue, event_id: int | None = None) -> None:
        """One event; its `id` is what the client sends back as Last-Event-ID when it reconnects."""
        lines = f"event: {event}\n"
        if event_id is not None:
            lines += f"id: {event_id}\n"
        lines += f"data: {json.dumps(data, default=json_default)}\n\n"
        await self.response.write(lines.encode())

    async def comment(self, text: str) -> None:
        """A comment line: clients ignore it; proxies see traffic."""
        await self.response.write(f": {text}\n\n".encode())
