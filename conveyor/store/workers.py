"""The worker registry: who is alive, for operators and recovery."""

from __future__ import annotations

from conveyor.store import Conn
from conveyor.store.statement import Statement

_REGISTER = Statement("""
INSERT INTO workers (id, hostname, pid) VALUES (:id, :hostname, :pid)
ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL
""")
_HEARTBEAT = Statement("UPDATE workers SET heartbeat_at = now() WHERE id = :id")
_STOPPED = Statement("UPDATE workers SET stopped_at = now() WHERE id = :id")
_LIVE = Statement("""
SELECT count(*) FROM workers
WHERE stopped_at IS NULL AND heartbeat_at > now() - make_interval(secs => :silent_seconds)
""")


async def register_worker(conn: Conn, worker_id: str, hostname: str, pid: int) -> None:
    """Record a worker as started."""
    await conn.execute(_REGISTER.sql, *_REGISTER.args(id=worker_id, hostname=hostname, pid=pid))


async def heartbeat_worker(conn: Conn, worker_id: str) -> None:
    """Record that a worker is alive."""
    await conn.execute(_HEARTBEAT.sql, *_HEARTBEAT.args(id=worker_id))


async def stop_worker(conn: Conn, worker_id: str) -> None:
    """Record a clean stop."""
    await conn.execute(_STOPPED.sql, *_STOPPED.args(id=worker_id))


async def count_live_workers(conn: Conn, silent_for_seconds: float) -> int:
    """Workers that have not stopped and whose heartbeat is more recent than `silent_for_seconds` ago."""
    return int(await conn.fetchval(_LIVE.sql, *_LIVE.args(silent_seconds=silent_for_seconds)))
