"""A raw HTTP peer on 127.0.0.1 that answers in hostile shapes: huge, endless, trickling, bombs, huge headers.

It writes the answer byte by byte as the shape says (no HTTP library in the way, so it can lie about lengths
and never end), and counts the requests it got and the bytes it managed to send before the client hung up.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import io
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

_BLOCK = b"a" * 65536
_BOMB_BYTES = 128 * 1024 * 1024


@functools.cache
def _bomb() -> bytes:
    """128 MB of 'a' as one gzip member of about 130 KB, compressed once per test run."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6) as out:
        for _ in range(_BOMB_BYTES // len(_BLOCK)):
            out.write(_BLOCK)
    return buffer.getvalue()


@dataclass
class AnswerPeer:
    """Answers every request in the shape `case` describes (an entry of tests/corpora/answers.json)."""

    case: dict[str, Any]
    requests: int = 0
    sent_bytes: int = 0
    url: str = ""
    _server: asyncio.Server | None = field(default=None, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)
    _handlers: set[asyncio.Task[object]] = field(default_factory=set, repr=False)
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    async def __aenter__(self) -> AnswerPeer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/answer"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        self._done.set()
        for writer in self._writers:
            writer.transport.abort()  # the handlers see the connection go, and end
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            self.requests += 1
            await self._answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: what it took is counted
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent_bytes += len(data)

    async def _answer(self, writer: asyncio.StreamWriter) -> None:
        shape, size = self.case["shape"], int(self.case.get("bytes", 0))
        status = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if shape == "huge":
            await self._send(writer, status + b"Content-Length: %d\r\n\r\n" % size)
            for start in range(0, size, len(_BLOCK)):
                await self._send(writer, _BLOCK[: size - start])
        elif shape == "declared_huge":
            await self._send(writer, status + b"Content-Length: %d\r\n\r\n" % size)
            while True:
                await self._send(writer, _BLOCK)
        elif shape == "endless_chunked":
            await self._send(writer, status + b"Transfer-Encoding: chunked\r\n\r\n")
            while True:
                await self._send(writer, b"%x\r\n%s\r\n" % (len(_BLOCK), _BLOCK))
        elif shape == "no_length_endless":
            await self._send(writer, status + b"Connection: close\r\n\r\n")
            while True:
                await self._send(writer, _BLOCK)
        elif shape == "trickle":
            await self._send(writer, status + b"Content-Length: %d\r\n\r\n" % size)
            await self._trickle(writer, b"a")
        elif shape == "trickle_chunked":
            await self._send(writer, status + b"Transfer-Encoding: chunked\r\n\r\n")
            await self._trickle(writer, b"1\r\na\r\n")
        elif shape == "short_body":
            await self._send(writer, status + b"Content-Length: %d\r\n\r\n[1," % size)
            await self._done.wait()  # the rest never comes
        elif shape == "gzip_bomb":
            bomb = _bomb()
            headers = b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
            await self._send(writer, status + headers)
            await self._send(writer, bomb)
        elif shape == "huge_header":
            await self._send(writer, status + b"X-Huge: " + b"h" * size + b"\r\nContent-Length: 2\r\n\r\n{}")
        elif shape == "many_headers":
            lines = b"".join(b"X-H%d: v\r\n" % i for i in range(size))
            await self._send(writer, status + lines + b"Content-Length: 2\r\n\r\n{}")
        elif shape == "trickled_headers":
            await self._send(writer, status + b"X-Slow: ")
            await self._trickle(writer, b"s")
        else:
            raise AssertionError(f"unknown shape {shape!r}")

    async def _trickle(self, writer: asyncio.StreamWriter, piece: bytes) -> None:
        while not self._done.is_set():
            await self._send(writer, piece)
            await asyncio.sleep(0.05)  # a peer that trickles, not a synchronisation
