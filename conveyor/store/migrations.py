"""Numbered migrations: which a database lacks, and applying them in order under one advisory lock.

A new database gets `schema.sql` (the schema at head) and records every migration as applied; a database
made by an earlier release gets the migrations it lacks, each in its own transaction with its row in
`schema_migrations`. A 0.1 database predates that table: it is recognised by the fingerprint 0.1 left on
`executions` and recorded as at migration 1, the 0.1 schema itself (which is idempotent, so a database from
before 0.1 is brought to it by running it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import structlog

from conveyor.errors import ConveyorError
from conveyor.store import Conn, Pool, connection
from conveyor.store.statement import Statement

log = structlog.get_logger(__name__)

# Any constant will do, as long as nothing else takes this advisory lock.
_LOCK = 7193501
_ACQUIRE = Statement("SELECT pg_advisory_lock(:key)")
_RELEASE = Statement("SELECT pg_advisory_unlock(:key)")

# What 0.1's start-up wrote on `executions` once it had applied its schema.sql (migrations/0001_*.sql).
RELEASE_0_1_FINGERPRINT = "conveyor schema sha256:55c97127dc26f8de52d05307190ba00aed1283278499013805939dc6031f7ff0"

_FILE = re.compile(r"(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql")

CREATE_TABLE = """\
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
"""

_STATE = """
SELECT to_regclass('schema_migrations') IS NOT NULL AS tracked,
       to_regclass('executions') IS NOT NULL AS released,
       obj_description(to_regclass('executions'), 'pg_class') AS fingerprint
"""
_APPLIED = "SELECT version FROM schema_migrations"
_RECORD = Statement(
    "INSERT INTO schema_migrations (version, name) SELECT * FROM unnest(:versions::integer[], :names::text[])"
)


class MigrationError(ConveyorError):
    """The database's schema is not the one this conveyor needs."""

    code = "schema_out_of_date"


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered file of migrations/: the forward SQL from the version before it."""

    version: int
    name: str
    sql: str


@dataclass(frozen=True, slots=True)
class Step:
    """One transaction of a migration run: its SQL and the migrations it records as applied."""

    title: str
    sql: str
    records: tuple[Migration, ...]


def _source(name: str) -> Path:
    """A file or directory shipped next to the package (a wheel) or at the top of a source checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / name, here.parent / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"{name} is missing from the conveyor installation")


def head_schema() -> str:
    """schema.sql: the schema a new database is created with."""
    return _source("schema.sql").read_text()


def known_migrations() -> tuple[Migration, ...]:
    """Every migration this conveyor ships, in order; the numbers run 1, 2, 3… without a gap."""
    found = []
    for path in sorted(_source("migrations").glob("*.sql")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            raise MigrationError(f"migrations/{path.name}: a migration is named NNNN_snake_case.sql")
        found.append(Migration(int(match["version"]), path.stem, path.read_text()))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migrations/{migration.name}.sql: expected number {expected:04d}")
    return tuple(found)


async def plan(conn: Conn) -> tuple[Step, ...]:
    """What this database lacks of the migrations, as the transactions that would apply them."""
    known = known_migrations()
    state = await conn.fetchrow(_STATE)
    assert state is not None
    if state["tracked"]:
        applied = {row["version"] for row in await conn.fetch(_APPLIED)}
        if applied - {m.version for m in known}:
            log.warning("schema_newer_than_code", applied=max(applied), known=len(known))
        return tuple(Step(m.name, m.sql, (m,)) for m in known if m.version not in applied)
    if not state["released"]:
        return (Step("schema.sql", CREATE_TABLE + head_schema(), known),)
    baseline, later = known[0], known[1:]
    at_baseline = state["fingerprint"] == RELEASE_0_1_FINGERPRINT
    first = Step(baseline.name, CREATE_TABLE + ("" if at_baseline else baseline.sql), (baseline,))
    return (first, *(Step(m.name, m.sql, (m,)) for m in later))


async def migrate(pool: Pool) -> tuple[Step, ...]:
    """Apply the migrations this database lacks, in order; return what was applied.

    When none is missing this reads two catalogs and takes no lock: a worker restarting under load must not
    queue behind (or deadlock with) the steps the other workers are committing. Otherwise one session
    advisory lock serialises concurrent starts, and the plan is read again under it.
    """
    async with connection(pool) as conn:
        if not await plan(conn):
            return ()
        await conn.execute(_ACQUIRE.sql, *_ACQUIRE.args(key=_LOCK))
        try:
            steps = await plan(conn)  # another process may have applied them while we waited
            for step in steps:
                async with conn.transaction():
                    await conn.execute(step.sql)
                    versions = [m.version for m in step.records]
                    await conn.execute(
                        _RECORD.sql, *_RECORD.args(versions=versions, names=[m.name for m in step.records])
                    )
                log.info("migration_applied", migration=step.title, records=versions)
            return steps
        finally:
            await conn.execute(_RELEASE.sql, *_RELEASE.args(key=_LOCK))


async def require_head(pool: Pool) -> None:
    """Refuse to run on a database that lacks migrations (when start-up is told not to apply them)."""
    async with connection(pool) as conn:
        missing = await plan(conn)
    if missing:
        names = ", ".join(step.title for step in missing)
        raise MigrationError(
            f"the database lacks migrations ({names}): run `conveyor migrate`, or start with "
            f"CONVEYOR_MIGRATE_ON_START=true"
        )
