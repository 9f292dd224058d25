"""The schema: applied at start-up, serialised so concurrent starts are safe; and the readiness probe."""

from __future__ import annotations

from pathlib import Path

from conveyor.store import Conn, Pool, transaction
from conveyor.store.templates import seed_templates

# Any constant will do, as long as nothing else takes this advisory lock.
_SCHEMA_LOCK = 7193501


def schema_sql() -> str:
    """The schema, from the installed package or the source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "schema.sql", here.parent / "schema.sql"):
        if candidate.is_file():
            return candidate.read_text()
    raise FileNotFoundError("schema.sql is missing from the conveyor installation")


async def apply_schema(pool: Pool) -> None:
    """Create every table and index that is missing, and the standard email templates."""
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        await conn.execute(schema_sql())
        await seed_templates(conn)


async def ping(conn: Conn) -> None:
    """One round trip: the database answers."""
    await conn.fetchval("SELECT 1")
