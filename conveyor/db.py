"""Connect to PostgreSQL: the configured URL, or an embedded server under CONVEYOR_HOME."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from conveyor.errors import DatabaseUnavailableError
from conveyor.store import Pool
from conveyor.store.migrations import require_head
from conveyor.store.schema import apply_schema

log = structlog.get_logger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset on release (one round trip per step): pooled connections never LISTEN,
    SET, hold session advisory locks or leave cursors open, so there is nothing to reset."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """Open a pool whose connections encode and decode JSON columns."""
    try:
        return await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise DatabaseUnavailableError(f"cannot connect to PostgreSQL: {exc}") from exc


@asynccontextmanager
async def connect(dsn: str, *, migrate: bool = True, max_size: int = 10) -> AsyncIterator[Pool]:
    """Open a pool for the lifetime of the block, on a database at the schema's head: migrated first, or else
    refused when it lacks a migration."""
    pool = await create_pool(dsn, max_size=max_size)
    try:
        if migrate:
            await apply_schema(pool)
        else:
            await require_head(pool)
        yield pool
    finally:
        await pool.close()


@contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """Run a PostgreSQL server whose data lives in data_dir, for the block; yield its URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = _pgserver()
    if get_server is None:
        yield from _system_postgres(data_dir)
        return
    output = embedded_log_path(data_dir)
    with _output_to(output):
        with _quiet_runtime_dir():
            server = get_server(data_dir, cleanup_mode="stop")
        log.info("embedded_postgres_started", data_dir=str(data_dir), log=str(output))
        try:
            yield str(server.get_uri())
        finally:
            server.cleanup()


def _pgserver() -> Any:
    """pgserver's `get_server`, when the package is installed."""
    with _quiet_runtime_dir():
        try:
            from pgserver import get_server  # type: ignore[attr-defined]
        except ImportError:
            return None
    return get_server


def embedded_binary(name: str) -> Path | None:
    """A program that ships with the embedded server (`psql`), when the package and the program are there."""
    with _quiet_runtime_dir():
        try:
            import pgserver  # type: ignore[import-untyped,unused-ignore]
        except ImportError:
            return None
    found = Path(pgserver.__file__).parent / "pginstall" / "bin" / name
    return found if found.exists() else None


@contextmanager
def _quiet_runtime_dir() -> Iterator[None]:
    """platformdirs warns that XDG_RUNTIME_DIR is unset (a root shell, a container): /tmp serves pgserver as well."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        yield


def embedded_log_path(data_dir: Path) -> Path:
    """Where the embedded server's start-up output (initdb, pg_ctl) is kept, beside its data directory."""
    return data_dir.parent / "postgres.log"


@contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send pgserver's log lines (initdb's and pg_ctl's whole output) to a file instead of the console; after the
    block (its exit handler logs too), to nowhere."""
    found = logging.getLogger("pgserver")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    found.addHandler(handler)
    found.propagate = False
    try:
        yield
    finally:
        found.removeHandler(handler)
        handler.close()


def _system_postgres(data_dir: Path) -> Iterator[str]:
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise DatabaseUnavailableError(
            "no embedded PostgreSQL: install the 'pgserver' package or put initdb and pg_ctl on PATH, "
            "or set DATABASE_URL=postgresql://user:password@host:5432/dbname"
        )
    if os.geteuid() == 0:
        raise DatabaseUnavailableError(
            "PostgreSQL refuses to run as root without the 'pgserver' package; set DATABASE_URL instead"
        )
    # The argv below is fixed: binaries found on PATH and paths we chose.
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(  # noqa: S603
            [initdb, "-D", str(data_dir), "--auth=trust", "-U", "postgres"], check=True, capture_output=True
        )
    socket_dir = data_dir / "sock"
    socket_dir.mkdir(exist_ok=True)
    subprocess.run(  # noqa: S603
        [pg_ctl, "-D", str(data_dir), "-w", "-l", str(data_dir / "log"), "-o", f"-h '' -k {socket_dir}", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@/postgres?host={socket_dir}"
    finally:
        subprocess.run(  # noqa: S603
            [pg_ctl, "-D", str(data_dir), "-m", "fast", "stop"], check=False, capture_output=True
        )
