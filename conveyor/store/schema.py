"""The schema at start-up: the migrations a database lacks, the standard email templates; the readiness probe."""

from __future__ import annotations

from conveyor.store import Conn, Pool, connection
from conveyor.store.migrations import migrate
from conveyor.store.templates import seed_templates


async def apply_schema(pool: Pool) -> None:
    """Bring the database to the schema at head, and add the standard email templates that are missing."""
    await migrate(pool)
    async with connection(pool) as conn:
        await seed_templates(conn)


async def ping(conn: Conn) -> None:
    """One round trip: the database answers."""
    await conn.fetchval("SELECT 1")
