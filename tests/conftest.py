"""Shared fixtures: one PostgreSQL per test session, a clean database per test, a webhook peer, captured logs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from conveyor.config import Settings
from conveyor.db import create_pool, embedded_postgres
from conveyor.store import Pool
from conveyor.store.maintenance import truncate_runtime_tables
from conveyor.store.schema import apply_schema
from testkit.peers import WebhookPeer


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """DATABASE_URL when set, else a throwaway embedded cluster for the session."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-test-") as home, embedded_postgres(Path(home) / "pg") as url:
        yield url


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[Pool]:
    """A pool on the test database, schema applied once; durability off, this data is throwaway."""
    pool = await create_pool(database_url, max_size=20)
    async with pool.acquire() as conn:
        await conn.execute("ALTER SYSTEM SET fsync = off")
        await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        await conn.execute("SELECT pg_reload_conf()")
    await apply_schema(pool)
    yield pool
    await pool.close()


@pytest.fixture
async def db(pool: Pool) -> Pool:
    """The pool, on a database emptied for this test (seed templates kept)."""
    async with pool.acquire() as conn:
        await truncate_runtime_tables(conn)
    return pool


@pytest.fixture
def settings() -> Settings:
    """Settings for in-process workers; leases long enough that no stall of a busy machine lapses one."""
    return Settings(lease_seconds=30.0, concurrency=10, webhook_allow_hosts=frozenset({"127.0.0.1"}))


@pytest.fixture
async def webhook_peer() -> AsyncIterator[WebhookPeer]:
    """A webhook peer on 127.0.0.1, on a free port, stopped after the test."""
    async with WebhookPeer() as peer:
        yield peer


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every structlog event this process logs during the test, as dicts."""
    with capture_logs() as captured:
        yield captured


def logged(logs: list[MutableMapping[str, Any]], event: str, **fields: object) -> list[MutableMapping[str, Any]]:
    """The captured entries of `event` whose fields include `fields`."""
    return [e for e in logs if e["event"] == event and all(e.get(k) == v for k, v in fields.items())]
