"""The NOTIFY channels schema.sql's triggers send on, their payloads, and the session of a listener."""

from __future__ import annotations

import uuid

from conveyor.store import Conn

# Payload: the id of an execution whose running step must stop (it was cancelled).
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


_NAME_SESSION = "SELECT set_config('application_name', $1, false)"
_END_LISTENING = "UNLISTEN *; RESET application_name"


async def name_session(conn: Conn, name: str) -> None:
    """Show this connection as `name` in pg_stat_activity."""
    await conn.execute(_NAME_SESSION, name)


async def end_listening(conn: Conn) -> None:
    """Leave a pooled connection as the pool expects it: listening to nothing, under no name."""
    await conn.execute(_END_LISTENING)
