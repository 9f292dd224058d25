"""The secrets table: names and encrypted values; values are encrypted and decrypted outside SQL."""

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
INSERT INTO secrets (name, ciphertext) VALUES (:name, :ciphertext)
ON CONFLICT (name) DO UPDATE SET ciphertext = excluded.ciphertext, updated_at = now()
RETURNING updated_at, (xmax = 0) AS created
""")


async def put_secret(conn: Conn, name: str, ciphertext: bytes) -> tuple[datetime, bool]:
    """Store a secret's encrypted value; when it was stored, and True when it is new."""
    row = await conn.fetchrow(_PUT.sql, *_PUT.args(name=name, ciphertext=ciphertext))
    assert row is not None
    return row["updated_at"], bool(row["created"])


_DELETE = Statement("DELETE FROM secrets WHERE name = :name")


async def delete_secret(conn: Conn, name: str) -> bool:
    """Delete a secret; False when there was none."""
    return str(await conn.execute(_DELETE.sql, *_DELETE.args(name=name))) != "DELETE 0"


_FETCH = Statement(
    "SELECT name, ciphertext, updated_at FROM secrets WHERE :names::text[] IS NULL OR name = ANY(:names::text[])"
)


async def fetch_secrets(conn: Conn, names: list[str] | None = None) -> list[StoredSecret]:
    """The stored secrets of these names (all of them when None)."""
    return [
        StoredSecret(r["name"], bytes(r["ciphertext"]), r["updated_at"])
        for r in await conn.fetch(_FETCH.sql, *_FETCH.args(names=names))
    ]


_NAMES = "SELECT name, updated_at FROM secrets ORDER BY name"


async def secret_names(conn: Conn) -> list[tuple[str, datetime]]:
    """Every stored secret's name and when it was last written, in name order."""
    return [(r["name"], r["updated_at"]) for r in await conn.fetch(_NAMES)]


_EXISTING = Statement("SELECT name FROM secrets WHERE name = ANY(:names::text[])")


async def existing_secret_names(conn: Conn, names: list[str]) -> set[str]:
    """Which of these names name a stored secret."""
    return {r["name"] for r in await conn.fetch(_EXISTING.sql, *_EXISTING.args(names=names))}
