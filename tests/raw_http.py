"""HTTP/1.1 over a raw socket, for requests a client library would not send: a NUL, bytes that are not UTF-8,
any Host header, a body with any Content-Type or none."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from conveyor.jsonvalue import JSONObject

_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RawAnswer:
    """An answer's status and headers, and the error its JSON body holds."""

    status: int
    headers: dict[str, str]
    error: JSONObject | None


async def send_raw(
    port: int, method: str, target: str, headers: list[bytes], body: bytes | None = None, *, host: bytes | None = None
) -> RawAnswer:
    """Send one request over a fresh connection to 127.0.0.1:port (Host: 127.0.0.1:port unless `host` is given).

    A stream's body is not read: the status and headers say what it is.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [
            f"{method} {target} HTTP/1.1".encode(),
            b"Host: " + (host if host is not None else f"127.0.0.1:{port}".encode()),
        ]
        head.append(b"Connection: close")
        if body is not None or method != "GET":
            head.append(f"Content-Length: {len(body or b'')}".encode())
        writer.write(b"\r\n".join([*head, *headers]) + b"\r\n\r\n" + (body or b""))
        async with asyncio.timeout(_TIMEOUT_SECONDS):
            status = int((await reader.readline()).split()[1])
            answer_headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                answer_headers[name.strip().lower()] = value.strip()
            if status < 400 or not answer_headers.get("content-type", "").startswith("application/json"):
                return RawAnswer(status, answer_headers, None)
            text = await reader.readexactly(int(answer_headers["content-length"]))
    finally:
        writer.close()
    return RawAnswer(status, answer_headers, json.loads(text).get("error"))
