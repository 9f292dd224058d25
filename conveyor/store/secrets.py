"""The secrets table: each namespace's names and encrypted values; values are encrypted and decrypted outside
SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """A secret's row, its value still encrypted."""

    name: str
    ciphertext: bytes
    updated_at: datetime


_PUT = Statement("""
INSERT INTO secrets (namespace, name, ciphertext) VALUES (:namespace, :name, :ciphertext)
ON CONFLICT (namespace, name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = now()
RETURNING updated_at, (xmax = 0) AS created
""")


async def put_secret(conn: Conn, namespace: str, name: str, ciphertext: bytes) -> tuple[datetime, bool]:
    """Store a namespace's secret's encrypted value; when it was stored, and True when it is new."""
    row = await conn.fetchrow(_PUT.sql, *_PUT.args(namespace=namespace, name=name, ciphertext=ciphertext))
    assert row is not None
    return row["updated_at"], bool(row["created"])


_DELETE = Statement("DELETE FROM secrets WHERE namespace = :namespace AND name = :name")


async def delete_secret(conn: Conn, namespace: str, name: str) -> bool:
    """Delete a namespace's secret; False when there was none."""
    return str(await conn.execute(_DELETE.sql, *_DELETE.args(namespace=namespace, name=name))) != "DELETE 0"


_FETCH = Statement("""
SELECT name, ciphertext, updated_at FROM secrets
WHERE (:namespace::text IS NULL OR namespace = :namespace) AND (:names::text[] IS NULL OR name = ANY(:names::text[]))
""")


async def fetch_secrets(conn: Conn, names: list[str] | None = None, namespace: str | None = None) -> list[StoredSecret]:
    """The stored secrets of these names (all of them when None) of a namespace (of every one when None)."""
    return [
        StoredSecret(r["name"], bytes(r["ciphertext"]), r["updated_at"])
        for r in await conn.fetch(_FETCH.sql, *_FETCH.args(names=names, namespace=namespace))
    ]


_NAMES = Statement("SELECT name, updated_at FROM secrets WHERE namespace = :namespace ORDER BY name")


async def secret_names(conn: Conn, namespace: str) -> list[tuple[str, datetime]]:
    """Every stored secret's name of the namespace and when it was last written, in name order."""
    return [(r["name"], r["updated_at"]) for r in await conn.fetch(_NAMES.sql, *_NAMES.args(namespace=namespace))]


_EXISTING = Statement("SELECT name FROM secrets WHERE namespace = :namespace AND name = ANY(:names::text[])")


async def existing_secret_names(conn: Conn, names: list[str], namespace: str) -> set[str]:
    """Which of these names name a stored secret of the namespace."""
    return {r["name"] for r in await conn.fetch(_EXISTING.sql, *_EXISTING.args(names=names, namespace=namespace))}
