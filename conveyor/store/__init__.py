"""The SQL layer: every statement conveyor runs lives in this package, and every asyncpg error is
translated here, once."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TypeAlias

import asyncpg
from asyncpg import Connection
from asyncpg.pool import PoolConnectionProxy

from conveyor.errors import DatabaseUnavailableError

Conn: TypeAlias = Connection | PoolConnectionProxy
Pool: TypeAlias = asyncpg.Pool

# Errors that say the database is gone or refusing us, not that a statement was wrong.
_UNAVAILABLE = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
)


@contextlib.asynccontextmanager
async def connection(pool: Pool) -> AsyncIterator[Conn]:
    """A pooled connection for the block; a lost database surfaces as DatabaseUnavailableError."""
    try:
        async with pool.acquire() as conn:
            yield conn
    except _UNAVAILABLE as exc:
        raise DatabaseUnavailableError(f"the database is unavailable: {type(exc).__name__}: {exc}") from exc


@contextlib.asynccontextmanager
async def transaction(pool: Pool) -> AsyncIterator[Conn]:
    """A pooled connection inside one transaction, committed when the block ends without error."""
    async with connection(pool) as conn, conn.transaction():
        yield conn
