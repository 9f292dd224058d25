"""Bounded resources at the edge, over real sockets on 127.0.0.1: a half-sent request is closed after the header
timeout, connections past the cap give way or are refused at once while a whole request still passes, and
requests waiting for an execution past their cap are a 429 with Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from prometheus_client import REGISTRY

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.http.gate import GatedSite, listening
from conveyor.store import Pool
from testkit.poll import poll_until
from tests.raw_http import send_raw

_HALF_SENT = b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
# Far more than the deadlines below: a connection closed within it was closed by the server, not by chance.
_PROMPTLY_SECONDS = 5.0


@contextlib.asynccontextmanager
async def _serving(db: Pool, settings: Settings) -> AsyncIterator[GatedSite]:
    async with listening(create_app(db, settings), settings, "127.0.0.1", 0) as site:
        yield site


@contextlib.asynccontextmanager
async def _half_sent(port: int, count: int) -> AsyncIterator[list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """`count` connections, opened one after the other, each having sent part of a request's headers."""
    opened = []
    try:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_HALF_SENT)
            await writer.drain()
            opened.append((reader, writer))
        yield opened
    finally:
        for _, writer in opened:
            writer.close()


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """What the server sent before it closed the connection; fails when it stays open."""
    async with asyncio.timeout(_PROMPTLY_SECONDS):
        return await reader.read()


async def _whole_request_passes(port: int) -> None:
    answer = await send_raw(port, "GET", "/health/live", [])
    assert answer.status == 200


async def test_a_half_sent_request_is_closed_after_the_header_timeout(db: Pool) -> None:
    async with _serving(db, Settings(header_timeout_seconds=0.5)) as site, _half_sent(site.port, 3) as slow:
        started = asyncio.get_running_loop().time()
        for reader, _ in slow:
            assert await _closed_by_server(reader) == b""
        assert asyncio.get_running_loop().time() - started >= 0.3  # not before its deadline
        await _whole_request_passes(site.port)


async def test_an_idle_kept_alive_connection_is_closed_after_the_header_timeout(db: Pool) -> None:
    async with _serving(db, Settings(header_timeout_seconds=0.5)) as site:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
        writer.write(f"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:{site.port}\r\n\r\n".encode())
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        writer.write(b"GET /health/live HTTP/1.1\r\n")  # the next request, half-sent
        async with asyncio.timeout(_PROMPTLY_SECONDS):
            while await reader.read(65536):
                pass  # the rest of the first answer, then the end
        writer.close()


def _shed(outcome: str) -> float:
    return REGISTRY.get_sample_value("conveyor_http_connections_shed_total", {"outcome": outcome}) or 0.0


async def test_past_the_connection_cap_the_oldest_half_sent_request_gives_way(db: Pool) -> None:
    settings = Settings(max_connections=20, header_timeout_seconds=60)
    evicted = _shed("evicted")
    async with _serving(db, settings) as site, _half_sent(site.port, 20) as first, _half_sent(site.port, 10):
        for reader, _ in first[:10]:
            assert await _closed_by_server(reader) == b""
        await _whole_request_passes(site.port)
        # The whole request took the place of the next oldest; the others are still held.
        assert await _closed_by_server(first[10][0]) == b""
        assert not any(reader.at_eof() for reader, _ in first[11:])
        assert _shed("evicted") - evicted == 11


async def test_past_the_connection_cap_with_none_half_sent_a_new_connection_is_refused(db: Pool) -> None:
    settings = Settings(max_connections=5, header_timeout_seconds=60)
    refused = _shed("refused")
    async with _serving(db, settings) as site, aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{site.port}/events/stream"
        streams = [await session.get(url) for _ in range(5)]
        try:
            assert [s.status for s in streams] == [200] * 5
            reader, writer = await asyncio.open_connection("127.0.0.1", site.port)
            answer = await _closed_by_server(reader)
            writer.close()
        finally:
            for stream in streams:
                stream.close()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"Retry-After: 1" in head
        assert json.loads(body)["error"]["code"] == "too_many_connections"
        assert _shed("refused") - refused == 1


async def test_waits_past_their_cap_are_429_with_retry_after_and_start_nothing(db: Pool) -> None:
    workflow = {"name": "slow", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": "1h"}]}
    async with _serving(db, Settings(max_waits=2)) as site, aiohttp.ClientSession() as session:
        base = f"http://127.0.0.1:{site.port}"
        assert (await session.post(f"{base}/workflows", json=workflow)).status == 201

        async def start(body: dict[str, Any]) -> aiohttp.ClientResponse:
            return await session.post(f"{base}/workflows/slow/executions", json=body)

        waiting = [asyncio.create_task(start({"input": {}, "wait": 3})) for _ in range(2)]

        async def executions() -> int:
            async with db.acquire() as conn:
                return int(await conn.fetchval("SELECT count(*) FROM executions"))

        await poll_until(lambda: _equals(executions(), 2), "both waiting requests to start their executions")
        refused = await start({"input": {}, "wait": 3})
        assert refused.status == 429
        assert int(refused.headers["Retry-After"]) > 0
        error = (await refused.json())["error"]
        assert (error["code"], error["details"]["field"]) == ("too_many_waits", "/wait")
        assert await executions() == 2
        assert (await start({"input": {}})).status == 201  # without a wait, nothing to hold
        assert [(await w).status for w in waiting] == [201, 201]
        assert (await start({"input": {}, "wait": 0.1})).status == 201  # the places are free again


async def _equals(value: Any, expected: int) -> bool:
    return bool(await value == expected)
