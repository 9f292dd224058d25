"""The worker registry: who is alive, for operators and recovery."""

from __future__ import annotations

from conveyor.store import Conn

_REGISTER = """
INSERT INTO workers (id, hostname, pid) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
"""
_HEARTBEAT = "UPDATE workers SET heartbeat_at = now() WHERE id = $1"
_STOPPED = "UPDATE workers SET stopped_at = now() WHERE id = $1"
_LIVE = """
SELECT count(*) FROM workers
WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => $1)
"""


async def register_worker(conn: Conn, worker_id: str, hostname: str, pid: int) -> None:
    """Record a worker as started."""
    await conn.execute(_REGISTER, worker_id, hostname, pid)


async def heartbeat_worker(conn: Conn, worker_id: str) -> None:
    """Record that a worker is alive."""
    await conn.execute(_HEARTBEAT, worker_id)


async def stop_worker(conn: Conn, worker_id: str) -> None:
    """Record a clean stop."""
    await conn.execute(_STOPPED, worker_id)


async def count_live_workers(conn: Conn, silent_for_seconds: float) -> int:
    """Workers that have not stopped and whose heartbeat is more recent than `silent_for_seconds` ago."""
    return int(await conn.fetchval(_LIVE, silent_for_seconds))
