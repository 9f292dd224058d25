"""The api_keys table: each key's namespace, role, lifetime and keyed hash (never the key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from asyncpg import Record

from conveyor.roles import Role
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored: what it may do, and until when."""

    id: uuid.UUID
    namespace: str
    role: Role
    label: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


_COLUMNS = "id, namespace, role, label, created_by, created_at, expires_at, revoked_at"


def _key(row: Record) -> ApiKey:
    values = dict(row)
    return ApiKey(**{**values, "role": Role.named(values["role"])})


_INSERT = Statement(f"""
INSERT INTO api_keys (id, namespace, role, label, digest, created_by, expires_at)
VALUES (:id, :namespace, :role, :label, :digest, :created_by, :expires_at)
RETURNING {_COLUMNS}
""")


async def insert_key(
    conn: Conn,
    digest: bytes,
    namespace: str,
    role: Role,
    *,
    label: str | None,
    created_by: str,
    expires_at: datetime | None,
) -> ApiKey:
    """Store a new key's hash; the key itself is the caller's to show once."""
    row = await conn.fetchrow(
        _INSERT.sql,
        *_INSERT.args(
            id=uuid.uuid4(),
            namespace=namespace,
            role=role.label,
            label=label,
            digest=digest,
            created_by=created_by,
            expires_at=expires_at,
        ),
    )
    assert row is not None
    return _key(row)


_FIND = Statement(f"""
SELECT {_COLUMNS} FROM api_keys
WHERE digest = :digest AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
""")


async def find_live_key(conn: Conn, digest: bytes) -> ApiKey | None:
    """The key with this hash, unless it is unknown, revoked or expired."""
    row = await conn.fetchrow(_FIND.sql, *_FIND.args(digest=digest))
    return _key(row) if row is not None else None


_LIST = Statement(f"""
SELECT {_COLUMNS} FROM api_keys
WHERE (:namespace::text IS NULL OR namespace = :namespace)
  AND (:after_created::timestamptz IS NULL OR (created_at, id) > (:after_created, :after_id::uuid))
ORDER BY created_at, id
LIMIT :limit
""")


async def list_keys(
    conn: Conn, namespace: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[ApiKey]:
    """Keys oldest first (of one namespace, or of all when None), revoked and expired ones included."""
    after_created, after_id = after or (None, None)
    rows = await conn.fetch(
        _LIST.sql, *_LIST.args(namespace=namespace, after_created=after_created, after_id=after_id, limit=limit)
    )
    return [_key(r) for r in rows]


_REVOKE = Statement(f"""
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = :id AND (:namespace::text IS NULL OR namespace = :namespace)
RETURNING {_COLUMNS}
""")


async def revoke_key(conn: Conn, key_id: uuid.UUID, namespace: str | None) -> ApiKey | None:
    """Revoke a key (of this namespace, or any when None); None when there is no such key."""
    row = await conn.fetchrow(_REVOKE.sql, *_REVOKE.args(id=key_id, namespace=namespace))
    return _key(row) if row is not None else None
