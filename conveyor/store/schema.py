"""The schema: applied at start-up, serialised so concurrent starts are safe; and the readiness probe."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conveyor.store import Conn, Pool, connection, transaction
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


# Which schema.sql was applied last, kept as a comment on the executions table (no table of its own).
_APPLIED = "SELECT obj_description(to_regclass('executions'), 'pg_class')"


async def apply_schema(pool: Pool) -> None:
    """Create every table and index that is missing, and the standard email templates.

    Skipped when this very schema.sql was applied already: even its IF NOT EXISTS statements lock tables, and
    a worker restarting under load would stall, or deadlock, the steps the other workers are committing.
    """
    sql = schema_sql()
    fingerprint = f"conveyor schema sha256:{hashlib.sha256(sql.encode()).hexdigest()}"
    async with connection(pool) as conn:
        if await conn.fetchval(_APPLIED) == fingerprint:
            await seed_templates(conn)
            return
    async with transaction(pool) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
        if await conn.fetchval(_APPLIED) != fingerprint:  # not applied by another process while we waited
            await conn.execute(sql)
            await conn.execute(f"COMMENT ON TABLE executions IS '{fingerprint}'")  # hex: nothing to quote
        await seed_templates(conn)


async def ping(conn: Conn) -> None:
    """One round trip: the database answers."""
    await conn.fetchval("SELECT 1")
