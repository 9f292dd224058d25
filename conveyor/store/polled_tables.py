"""Reading new rows of an application's table, after a cursor, for a table poll trigger.

The table and its columns are looked up in the catalog, never spliced from user text: the statement that reads
the rows is built only from the catalog's own names (quoted) and types. Rows are read in the order of the cursor
column, then of the primary key, so rows that share a cursor value (a timestamp) are never lost at a batch edge.
The cursor column must only grow, in commit order: a row committed later with a smaller value is not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.maintenance import CONVEYOR_TABLES

# Everything resolve_table needs, in one statement and so one snapshot (a table dropped meanwhile is simply not
# there): the relation, an unqualified name found as PostgreSQL would find it, along the search path; the cursor
# column and whether its type has a default btree order; the primary key's columns in key order; and whether a
# unique index on the cursor column alone exists.
_CATALOG = """
SELECT c.oid, n.nspname, c.relname, col.attname, col.type, col.ordered,
       coalesce(pk.names, '{}') AS key_names, coalesce(pk.types, '{}') AS key_types,
       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                 AND a.attname = $3) AS unique_on_cursor
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
           EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am m ON m.oid = o.opcmethod
                   WHERE m.amname = 'btree' AND o.opcdefault
                     AND o.opcintype = coalesce(nullif(t.typbasetype, 0), a.atttypid)) AS ordered
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attname = $3 AND a.attnum > 0 AND NOT a.attisdropped
) col ON true
LEFT JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY k.n) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) AS types
    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary
) pk ON true
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND c.oid = to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2)
                               ELSE quote_ident($1) || '.' || quote_ident($2) END)
"""


class TableNotPollableError(Exception):
    """The table or its cursor cannot be polled; `field` names which."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Column:
    """A column as the catalog names and types it."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class PolledTable:
    """A table resolved against the catalog, with the columns that order its rows: the cursor, then the key."""

    schema: str
    name: str
    order: tuple[Column, ...]

    def select(self) -> str:
        """The statement reading up to $2 rows after the position $1 (NULL: from the first row)."""
        cols = [f"t.{_quote(c.name)}" for c in self.order]
        after = ", ".join(f"($1::text[])[{i + 1}]::{c.type}" for i, c in enumerate(self.order))
        keys = ", ".join(f"{col}::text" for col in cols)
        return (
            f"SELECT to_jsonb(t) AS payload, ARRAY[{keys}] AS position "
            f"FROM {_quote(self.schema)}.{_quote(self.name)} t "
            f"WHERE $1::text[] IS NULL OR ({', '.join(cols)}) > ({after}) "
            f"ORDER BY {', '.join(cols)} LIMIT $2"
        )

    def last(self) -> str:
        """The statement reading the position of the last row now in the table."""
        cols = [f"t.{_quote(c.name)}" for c in self.order]
        return (
            f"SELECT ARRAY[{', '.join(f'{c}::text' for c in cols)}] FROM {_quote(self.schema)}.{_quote(self.name)} t "
            f"ORDER BY {', '.join(c + ' DESC' for c in cols)} LIMIT 1"
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def resolve_table(conn: Conn, table: str, cursor: str) -> PolledTable:
    """Find the table and its cursor column in the catalog, and what orders rows that share a cursor value."""
    schema, _, name = table.rpartition(".")
    relation = await conn.fetchrow(_CATALOG, schema or None, name, cursor)
    if relation is None:
        raise TableNotPollableError("/table", f"table {table!r} does not exist")
    if relation["relname"] in CONVEYOR_TABLES:
        raise TableNotPollableError("/table", f"{table!r} is one of conveyor's own tables")
    if relation["nspname"].startswith("pg_") or relation["nspname"] == "information_schema":
        raise TableNotPollableError("/table", f"{table!r} is a system catalog")
    if relation["attname"] is None:
        raise TableNotPollableError("/cursor", f"table {table!r} has no column {cursor!r}")
    if not relation["ordered"]:
        raise TableNotPollableError("/cursor", f"column {cursor!r} is of type {relation['type']}, which has no order")
    order = [Column(relation["attname"], relation["type"])]
    key = [Column(n, t) for n, t in zip(relation["key_names"], relation["key_types"], strict=True)]
    if [c.name for c in key] != [cursor]:
        if not key and not relation["unique_on_cursor"]:
            raise TableNotPollableError(
                "/cursor", f"table {table!r} has no primary key, and {cursor!r} is not unique: rows could be lost"
            )
        order.extend(c for c in key if c.name != cursor)
    return PolledTable(relation["nspname"], relation["relname"], tuple(order))


@dataclass(frozen=True, slots=True)
class PolledRow:
    """A row read after the cursor: the row as JSON, and its position (cursor, then key values, as text)."""

    payload: JSONObject
    position: list[str]


async def rows_after(conn: Conn, table: PolledTable, position: list[str] | None, limit: int) -> list[PolledRow]:
    """Up to `limit` rows after `position`, in order; a table or column gone since is TableNotPollableError."""
    try:
        rows = await conn.fetch(table.select(), position, limit)
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError, asyncpg.InvalidSchemaNameError) as exc:
        raise TableNotPollableError("/table", f"table {table.schema}.{table.name} cannot be read: {exc}") from exc
    return [PolledRow(r["payload"], list(r["position"])) for r in rows]


async def last_position(conn: Conn, table: PolledTable) -> list[str] | None:
    """The position of the table's last row, or None when it is empty."""
    position: list[str] | None = await conn.fetchval(table.last())
    return position
