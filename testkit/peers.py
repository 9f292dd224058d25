"""A local webhook peer: records every request, holds requests open on demand, answers as scripted."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from conveyor.jsonvalue import JSONValue
from testkit.poll import DEFAULT_TIMEOUT_SECONDS, poll_until


@dataclass(frozen=True, slots=True)
class Received:
    """One request the peer got."""

    method: str
    path: str
    key: str | None  # the Idempotency-Key header
    headers: dict[str, str]
    body: JSONValue  # parsed JSON; the raw text if it was not JSON; None if empty


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer: a status and, if given, the exact JSON text of the body."""

    status: int = 200
    text: str | None = None


class WebhookPeer:
    """An HTTP server on 127.0.0.1, on a free port, that webhooks can call.

    Every request is recorded before it is answered, and again in `abandoned` if its client hangs up
    first. Answers are 200 with `{"ok": true, "n": <count>}` unless `answer` scripted others; `hold`
    keeps requests open until `release`; `delay_seconds` plays a slow server.
    """

    def __init__(self, delay_seconds: float = 0.0) -> None:
        self.delay_seconds = delay_seconds
        self.received: list[Received] = []
        self.abandoned: list[Received] = []  # requests whose client hung up before the answer
        self._replies: deque[Reply] = deque()
        self._open = asyncio.Event()
        self._open.set()
        self._runner: web.AppRunner | None = None
        self._base = ""

    @property
    def url(self) -> str:
        """The URL webhooks should call (any path on the peer works the same)."""
        return self.url_for("/hook")

    def url_for(self, path: str) -> str:
        """The URL of `path` on the peer."""
        if not self._base:
            raise RuntimeError("the webhook peer is not started")
        return self._base + path

    def keys(self) -> list[str | None]:
        """The Idempotency-Key of every request, in arrival order."""
        return [r.key for r in self.received]

    def bodies(self) -> list[JSONValue]:
        """The body of every request, in arrival order."""
        return [r.body for r in self.received]

    def answer(self, *replies: Reply | int) -> None:
        """Answer the next requests with these (a bare int is a status); later ones get the default."""
        self._replies.extend(Reply(r) if isinstance(r, int) else r for r in replies)

    def hold(self) -> None:
        """Keep every request open, from now on, until `release`."""
        self._open.clear()

    def release(self) -> None:
        """Let held requests go, and stop holding new ones."""
        self._open.set()

    async def arrivals(self, count: int, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> list[Received]:
        """Wait until at least `count` requests have arrived; return them all."""
        await poll_until(lambda: len(self.received) >= count, f"{count} webhook request(s)", timeout_seconds)
        return self.received

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.text()
        body: JSONValue = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        received = Received(
            request.method, request.path, request.headers.get("Idempotency-Key"), dict(request.headers), body
        )
        self.received.append(received)
        n = len(self.received)
        try:
            await self._open.wait()
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)  # a slow server, not a synchronisation
        except asyncio.CancelledError:
            self.abandoned.append(received)
            raise
        reply = self._replies.popleft() if self._replies else Reply()
        if reply.text is not None:
            return web.Response(status=reply.status, text=reply.text, content_type="application/json")
        return web.json_response({"ok": reply.status < 400, "n": n}, status=reply.status)

    async def start(self) -> None:
        """Listen on 127.0.0.1, on a port the system picks."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._handle)
        # Cancel a handler whose client went away (a killed worker), so a held request does not linger.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self._base = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release anything held and stop listening."""
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> WebhookPeer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
