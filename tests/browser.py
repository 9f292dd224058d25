"""A headless Chromium driven over the Chrome DevTools Protocol, for tests that look at the dashboard."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-port=0",
)


def chromium_path() -> str | None:
    """Debian's chromium, when installed."""
    return shutil.which("chromium")


class Page:
    """One tab: send commands, evaluate expressions, wait on facts, take screenshots."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console.append(json.dumps(data["params"]["exceptionDetails"])[:2000])

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Run one protocol command and return its result, or raise its error."""
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        await self._ws.send_json({"id": command_id, "method": method, "params": params})
        answer = await asyncio.wait_for(future, 30)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer["result"]
        return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, what: str, timeout: float = 20.0) -> Any:
        """Evaluate until the expression is truthy; its value, or TimeoutError naming `what`."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.05)
        raise TimeoutError(f"page never showed {what} (last: {value!r}; errors: {self.console})")

    async def goto(self, url: str) -> None:
        """Navigate and wait until the page has rendered its view."""
        await self.evaluate("delete document.body.dataset.ready")
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.body && document.body.dataset.ready", f"{url} rendered")

    async def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        """Emulate a screen of this size (a phone when `mobile`)."""
        await self.send(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile
        )

    async def screenshot(self, path: Path) -> Path:
        """The page as a PNG at `path` (the whole page, not only the viewport)."""
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        """Stop reading and close the protocol connection."""
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


async def _devtools_port(profile: Path, process: asyncio.subprocess.Process) -> int:
    # Chromium writes the port it chose (asked for port 0) into this file once it listens.
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"chromium exited with {process.returncode}")
        if active.exists() and (lines := active.read_text().splitlines()):
            return int(lines[0])
        await asyncio.sleep(0.05)
    raise TimeoutError("chromium never wrote DevToolsActivePort")


@contextlib.asynccontextmanager
async def chromium(executable: str) -> AsyncIterator[Page]:
    """A headless Chromium with one blank tab, stopped when the block ends."""
    # Chromium's helper processes may still write the profile after the browser exits: do not fail on it.
    with tempfile.TemporaryDirectory(prefix="conveyor-chromium-", ignore_cleanup_errors=True) as profile:
        process = await asyncio.create_subprocess_exec(
            executable,
            *_FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port = await _devtools_port(Path(profile), process)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                target = next(t for t in targets if t["type"] == "page")
                ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
                page = Page(ws)
                try:
                    await page.send("Page.enable")
                    await page.send("Runtime.enable")
                    await page.resize(1280, 800)
                    yield page
                finally:
                    await page.close()
        finally:
            if process.returncode is None:
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 10)
            if process.returncode is None:
                process.kill()
                await process.wait()
