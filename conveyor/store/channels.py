"""The NOTIFY channels the workers and the API listen on (the store's statements and schema.sql's triggers send on
them), their payloads, and the session of a listener."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

from conveyor.store import Conn, Pool, connection
from conveyor.store.statement import Statement

# Payload: none. Something may be due sooner than the workers' timers say: an execution, an inbox row, an event.
WAKE_CHANNEL = "conveyor_wake"
# Payload: the id of an execution its worker must let go of (cancelled while it ran, or paused while held).
CONTROL_CHANNEL = "conveyor_control"
# Payload: comma-separated ids of execution_history rows just committed.
HISTORY_CHANNEL = "conveyor_history"


def control_target(payload: str) -> uuid.UUID | None:
    """The execution a control message names; None for a payload that names none."""
    try:
        return uuid.UUID(payload)
    except ValueError:
        return None


def history_ids(payload: str) -> list[int]:
    """The history row ids a history message lists."""
    return [int(part) for part in payload.split(",") if part.isdigit()]


_NAME_SESSION = Statement("SELECT set_config('application_name', :name, false)")
_REGISTER = """
WITH swept AS (
    DELETE FROM event_listeners WHERE pid NOT IN (SELECT pid FROM pg_stat_activity)
)
INSERT INTO event_listeners (pid) VALUES (pg_backend_pid()) ON CONFLICT (pid) DO NOTHING
"""
_XMAX = "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"
_XMIN = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_END_LISTENING = "DELETE FROM event_listeners WHERE pid = pg_backend_pid(); UNLISTEN *; RESET application_name"
# How long a new listener waits for transactions that began before it registered (see _settle).
_SETTLE_SECONDS = 1.0
_SETTLE_STEP_SECONDS = 0.005


async def _settle(conn: Conn) -> None:
    # A transaction that checked event_listeners before our row committed sends no NOTIFY: wait until every
    # transaction that was running then has ended, so what a subscriber reads next already holds its rows.
    # An idle-in-transaction session must not stall the feed, hence the bound.
    horizon = await conn.fetchval(_XMAX)
    for _ in range(int(_SETTLE_SECONDS / _SETTLE_STEP_SECONDS)):
        if await conn.fetchval(_XMIN) >= horizon:
            return
        await asyncio.sleep(_SETTLE_STEP_SECONDS)


def payload_listener(handler: Callable[[str], None]) -> Callable[[object, int, str, object], None]:
    """An asyncpg notification callback that hands `handler` the payload alone."""

    def on_notify(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        handler(str(payload))

    return on_notify


@contextlib.asynccontextmanager
async def listening(
    pool: Pool, channel: str, name: str, handler: Callable[[str], None]
) -> AsyncIterator[asyncio.Event]:
    """Hold one pooled connection LISTENing on `channel` for the block, shown as `name` and registered in
    event_listeners (history rows notify only then); the event yielded is set if that connection is lost.
    A lost database raises DatabaseUnavailableError."""
    lost = asyncio.Event()
    callback = payload_listener(handler)
    async with connection(pool) as conn:
        await conn.execute(_NAME_SESSION.sql, *_NAME_SESSION.args(name=name))
        await conn.add_listener(channel, callback)
        conn.add_termination_listener(lambda *_: lost.set())
        try:
            await conn.execute(_REGISTER)
            await _settle(conn)
            yield lost
        finally:
            if not conn.is_closed():
                await conn.remove_listener(channel, callback)
                await conn.execute(_END_LISTENING)
