"""Wake the worker early: on NOTIFY from another process, or when the next due time comes.

The same connection carries the worker's other channels (the control channel), so a worker holds one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

import asyncpg
import structlog

from conveyor.store.channels import WAKE_CHANNEL, payload_listener

log = structlog.get_logger(__name__)


class Alarm:
    """An event set by NOTIFY on the wake channel, or by this process.

    `handlers` take the payloads of other channels on the same connection; each runs in asyncpg's
    notification callback, so it must return at once.
    """

    def __init__(self, dsn: str, handlers: Mapping[str, Callable[[str], None]] | None = None) -> None:
        self._dsn = dsn
        self._handlers = dict(handlers or {})
        self._event = asyncio.Event()
        self._notified = True  # nothing has been heard yet: whatever is pending counts as news
        self._conn: asyncpg.Connection | None = None

    async def _listen(self) -> None:
        self._conn = await asyncpg.connect(self._dsn, server_settings={"application_name": "conveyor-wake"})
        for channel, handler in self._handlers.items():
            await self._conn.add_listener(channel, payload_listener(handler))
        self._conn.add_termination_listener(self._on_notify)  # wake up to reconnect at once
        await self._conn.add_listener(WAKE_CHANNEL, self._on_notify)

    async def ensure_listening(self) -> None:
        """Subscribe to the wake channel on a dedicated connection, again if it was lost; never raise."""
        if self._conn is not None and not self._conn.is_closed():
            return
        first = self._conn is None
        try:
            await self._listen()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            log.warning("wake_channel_unavailable", error=str(exc))
            return
        self._notified = True  # notifications may have been missed while the connection was down
        self._event.set()
        log.info("wake_channel_listening" if first else "wake_channel_reconnected")

    def _on_notify(self, *_: object) -> None:
        self._notified = True
        self._event.set()

    def take_notified(self) -> bool:
        """Whether another process (a NOTIFY, or a connection lost and so maybe a NOTIFY missed) rang since
        the last call, as opposed to this process's own `ring`."""
        notified, self._notified = self._notified, False
        return notified

    def ring(self) -> None:
        """Wake the waiter now."""
        self._event.set()

    async def wait(self, timeout_seconds: float) -> None:
        """Sleep until rung or until the timeout; then re-arm."""
        await self.ensure_listening()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout=max(timeout_seconds, 0.0))
        self._event.clear()

    async def close(self) -> None:
        """Stop listening."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
