"""The listening socket, bounded: a cap on open connections, and a deadline for each request's headers.

aiohttp closes a connection that sits waiting for a request longer than its keep-alive timeout, counted from the
connection's start and from each answer; set to CONVEYOR_HEADER_TIMEOUT, that bounds how long a half-sent request
(or an idle one) holds its connection. The cap is kept here, in a thin protocol wrapped around aiohttp's: past
CONVEYOR_MAX_CONNECTIONS a new connection closes the oldest one still sending its first request's headers (so a
flood of half-sent requests cannot lock out a client that sends a whole one), or, when there is none, is answered
503 and closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from conveyor.config import Settings
from conveyor.engine.metrics import CONNECTIONS_SHED

log = structlog.get_logger(__name__)

_END_OF_HEADERS = b"\r\n\r\n"
_RETRY_AFTER_SECONDS = 1
_FULL_BODY = json.dumps(
    {
        "error": {
            "code": "too_many_connections",
            "message": "this server holds as many connections as CONVEYOR_MAX_CONNECTIONS allows; retry shortly",
            "details": {},
        }
    }
).encode()
_FULL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
    + f"Retry-After: {_RETRY_AFTER_SECONDS}\r\nContent-Length: {len(_FULL_BODY)}\r\n\r\n".encode()
    + _FULL_BODY
)


class Gate:
    """Count the open connections, and choose which one gives way when there are too many."""

    def __init__(self, max_connections: int) -> None:
        self._max = max_connections
        self._open: set[_Guarded] = set()
        self._sending_headers: dict[_Guarded, None] = {}  # oldest first

    @property
    def open_connections(self) -> int:
        """How many connections are open now."""
        return len(self._open)

    def guard(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for the server: aiohttp's protocol, behind this gate."""
        return lambda: _Guarded(self, factory())

    def admit(self, connection: _Guarded) -> bool:
        """Count a new connection in, making room by closing the oldest still sending headers; False when full."""
        if len(self._open) >= self._max and self._sending_headers:
            oldest = next(iter(self._sending_headers))
            # A flood is counted, not logged line by line.
            CONNECTIONS_SHED.labels(outcome="evicted").inc()
            log.debug("connection_evicted", reason="max_connections", open=len(self._open))
            self.closed(oldest)  # counted out now: its transport reports the loss only on a later turn of the loop
            oldest.close()
        if len(self._open) >= self._max:
            CONNECTIONS_SHED.labels(outcome="refused").inc()
            log.debug("connection_refused", reason="max_connections", open=len(self._open))
            return False
        self._open.add(connection)
        self._sending_headers[connection] = None
        return True

    def headers_sent(self, connection: _Guarded) -> None:
        """The connection sent a whole request's headers: it no longer gives way to new ones."""
        self._sending_headers.pop(connection, None)

    def closed(self, connection: _Guarded) -> None:
        """The connection is gone."""
        self._open.discard(connection)
        self._sending_headers.pop(connection, None)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, counted by the gate; refused ones never reach aiohttp."""

    def __init__(self, gate: Gate, inner: asyncio.Protocol) -> None:
        self._gate = gate
        self._inner = inner
        self._transport: asyncio.Transport | None = None
        self._admitted = False
        self._tail: bytes | None = b""  # the last bytes received while the first request's headers are still arriving

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if not self._gate.admit(self):
            transport.write(_FULL)
            transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if self._tail is not None:
            seen = self._tail + data
            if _END_OF_HEADERS in seen:
                self._tail = None
                self._gate.headers_sent(self)
            else:
                self._tail = seen[-len(_END_OF_HEADERS) :]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def pause_writing(self) -> None:
        if self._admitted:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.closed(self)
        if self._admitted:
            self._inner.connection_lost(exc)

    def close(self) -> None:
        """Close the connection; aiohttp's protocol hears of it through connection_lost."""
        if self._transport is not None:
            self._transport.abort()


class GatedSite(web.BaseSite):
    """A TCP site whose connections pass through a Gate."""

    __slots__ = ("_bound_port", "_gate", "_host", "_port")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, gate: Gate) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._gate = gate
        self._bound_port = port

    @property
    def name(self) -> str:
        """The address served, as a URL."""
        return f"http://{self._host}:{self._bound_port}"

    @property
    def port(self) -> int:
        """The port listened on (the one chosen when asked for port 0)."""
        return self._bound_port

    async def start(self) -> None:
        """Listen, every connection behind the gate."""
        await super().start()
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._gate.guard(server), self._host, self._port, reuse_address=True
        )
        if self._server.sockets:
            self._bound_port = self._server.sockets[0].getsockname()[1]


@contextlib.asynccontextmanager
async def listening(app: web.Application, settings: Settings, host: str, port: int) -> AsyncIterator[GatedSite]:
    """Serve `app` on host:port for the block, with the connection cap and header deadline of `settings`."""
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=settings.header_timeout_seconds)
    await runner.setup()
    site = GatedSite(runner, host, port, Gate(settings.max_connections))
    await site.start()
    try:
        yield site
    finally:
        await runner.cleanup()
