"""Reading rows of an application's table for a table poll trigger, as the role an operator granted them to.

The table and its columns are looked up in the catalog, never spliced from user text: the statement that reads
the rows is built only from the catalog's own names (quoted) and types. Rows are read in the order of the cursor
column, then of the primary key, so rows that share a cursor value (a timestamp) are never lost at a batch edge.

Every read runs under `SET LOCAL ROLE conveyor_poll` inside its own transaction, so a poll reads only what an
operator granted that role (`GRANT SELECT ON app.signups TO conveyor_poll`), whoever conveyor connects as; the
same grant is checked when a trigger is saved. Each read also returns what conveyor.triggers.poll_window needs to
take rows that commit out of cursor order: the inserting transaction of every row (`xmin`, widened to 64 bits
against the statement's snapshot), the snapshot's oldest running transaction, and the transactions open in
this database (from `pg_locks`, which any role may read).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.maintenance import CONVEYOR_TABLES

POLL_ROLE = "conveyor_poll"
"""The PostgreSQL role every table poll reads as; schema.sql creates it, an operator grants it tables."""

# Everything resolve_table needs, in one statement and so one snapshot (a table dropped meanwhile is simply not
# there): the relation, an unqualified name found as PostgreSQL would find it, along the search path; whether
# the poll role may read it; the cursor column and whether its type has a default btree order; the primary key's
# columns in key order; and whether a unique index on the cursor column alone exists.
_CATALOG = """
SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
       has_schema_privilege($4, n.oid, 'USAGE') AND has_table_privilege($4, c.oid, 'SELECT') AS granted,
       col.attname, col.type, col.ordered,
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
WHERE c.oid = to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2)
                               ELSE quote_ident($1) || '.' || quote_ident($2) END)
"""

# The transactions open now in this database, but this one: any of them may still commit rows below the cursor.
# pg_stat_activity keeps one copy per transaction, so this runs in a transaction of its own before the read.
_OPEN = """
SELECT coalesce(array_agg(DISTINCT l.virtualtransaction), '{}') FROM pg_locks l
WHERE l.locktype = 'virtualxid' AND l.pid <> pg_backend_pid()
  AND l.pid IN (SELECT a.pid FROM pg_stat_activity a JOIN pg_database d ON d.oid = a.datid
                WHERE d.datname = current_database())
"""
_PREPARED = "SELECT 'prepared:' || transaction::text FROM pg_prepared_xacts WHERE database = current_database()"
_OPEN_NOW = f"SELECT ({_OPEN}) || ARRAY({_PREPARED})"


class TableNotPollableError(Exception):
    """The table or its cursor cannot be polled; `field` names which, `value` what was written there."""

    def __init__(self, field: str, message: str, value: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.value = value


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

    def _typed(self, param: int) -> str:
        return "(" + ", ".join(f"(${param}::text[])[{i + 1}]::{c.type}" for i, c in enumerate(self.order)) + ")"

    def select(self) -> str:
        """The statement reading, under one snapshot, up to $6 rows not yet taken, and the snapshot's facts.

        $1 low (rows at or below are all taken; NULL: none), $2 high and $3 floor (rows at or below high whose
        transaction is older than floor are taken), $4 rows taken besides (their identity), $5 the pending low,
        for the flag comparing each row with it. A read that finds no row still answers one row, with the facts.
        """
        cols = ", ".join(f"t.{_quote(c.name)}" for c in self.order)
        ident = f"ARRAY[{', '.join(f't.{_quote(c.name)}::text' for c in self.order)}]::text"
        xid = (
            "CASE WHEN t.xmin::text::bigint < 3 THEN 0 ELSE ((s.xmax >> 32) << 32) + t.xmin::text::bigint"
            " - CASE WHEN ((s.xmax >> 32) << 32) + t.xmin::text::bigint > s.xmax THEN 4294967296 ELSE 0 END END"
        )
        return (
            "WITH s AS MATERIALIZED (SELECT pg_snapshot_xmin(c)::text::bigint AS floor,"
            " pg_snapshot_xmax(c)::text::bigint AS xmax FROM pg_current_snapshot() c) "
            f"SELECT s.floor, ({_OPEN_NOW}) AS open, statement_timestamp() AS at, r.* FROM s LEFT JOIN LATERAL ("
            f"SELECT to_jsonb(t) AS payload, ARRAY[{', '.join(f't.{_quote(c.name)}::text' for c in self.order)}]"
            f" AS position, {ident} AS ident, x.xid,"
            f" coalesce(({cols}) < {self._typed(2)}, false) AS below_high,"
            f" coalesce(({cols}) < {self._typed(5)}, false) AS below_pending,"
            f" row_number() OVER (ORDER BY {cols}) AS n "
            f"FROM {_quote(self.schema)}.{_quote(self.name)} t CROSS JOIN LATERAL (SELECT {xid} AS xid) x "
            f"WHERE ($1::text[] IS NULL OR ({cols}) > {self._typed(1)}) "
            f"AND NOT coalesce(({cols}) <= {self._typed(2)} AND x.xid < $3::bigint, false) "
            f"AND NOT EXISTS (SELECT 1 FROM unnest($4::text[]) AS k(ident) WHERE k.ident = {ident}) "
            f"ORDER BY {cols} LIMIT $6) r ON true ORDER BY r.n"
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


def grant_hint(table: str) -> str:
    """The statement an operator runs to let table polls read this table."""
    return f"GRANT SELECT ON {table} TO {POLL_ROLE}"


async def resolve_table(conn: Conn, table: str, cursor: str) -> PolledTable:
    """Find the table and its cursor column in the catalog, and what orders rows that share a cursor value."""
    schema, _, name = table.rpartition(".")
    relation = await conn.fetchrow(_CATALOG, schema or None, name, cursor, POLL_ROLE)
    if relation is None:
        raise TableNotPollableError("/table", f"table {table!r} does not exist", table)
    if relation["relname"] in CONVEYOR_TABLES:
        raise TableNotPollableError("/table", f"{table!r} is one of conveyor's own tables", table)
    if relation["nspname"].startswith("pg_") or relation["nspname"] == "information_schema":
        raise TableNotPollableError("/table", f"{table!r} is a system catalog", table)
    if relation["relkind"] not in ("r", "p"):
        raise TableNotPollableError(
            "/table", f"{table!r} is not a table (views and foreign tables are not polled)", table
        )
    if not relation["granted"]:
        raise TableNotPollableError(
            "/table", f"table polls may not read {table!r}: an operator grants it with `{grant_hint(table)}`", table
        )
    if relation["attname"] is None:
        raise TableNotPollableError("/cursor", f"table {table!r} has no column {cursor!r}", cursor)
    if not relation["ordered"]:
        raise TableNotPollableError(
            "/cursor", f"column {cursor!r} is of type {relation['type']}, which has no order", cursor
        )
    order = [Column(relation["attname"], relation["type"])]
    key = [Column(n, t) for n, t in zip(relation["key_names"], relation["key_types"], strict=True)]
    if [c.name for c in key] != [cursor]:
        if not key and not relation["unique_on_cursor"]:
            raise TableNotPollableError(
                "/cursor",
                f"table {table!r} has no primary key, and {cursor!r} is not unique: rows could be lost",
                cursor,
            )
        order.extend(c for c in key if c.name != cursor)
    return PolledTable(relation["nspname"], relation["relname"], tuple(order))


@dataclass(frozen=True, slots=True)
class PolledRow:
    """A row not yet taken: the row as JSON, its position (cursor, then key values, as text), and its identity
    and inserting transaction; whether it sorts below the high mark and below the pending low."""

    payload: JSONObject
    position: list[str]
    ident: str
    xid: int
    below_high: bool
    below_pending: bool


@dataclass(frozen=True, slots=True)
class PolledBatch:
    """One read: its rows in order, and under its snapshot the oldest running transaction and those open."""

    rows: list[PolledRow]
    floor: int
    open: list[str]
    at: datetime


@dataclass(frozen=True, slots=True)
class Taken:
    """What a trigger has taken so far, as the read needs it (see conveyor.triggers.poll_window)."""

    low: list[str] | None
    high: list[str] | None
    floor: int | None
    recent: Sequence[str]
    pending: list[str] | None


async def open_transactions(conn: Conn) -> list[str]:
    """The transactions open in this database now (virtual ids), this one aside."""
    found: list[str] = await conn.fetchval(_OPEN_NOW)
    return found


async def read_batch(conn: Conn, table: PolledTable, taken: Taken, limit: int) -> PolledBatch:
    """Up to `limit` rows not yet taken, in order, read as the poll role in a transaction of their own."""
    try:
        rows = await _as_poll_role(
            conn, table.select(), taken.low, taken.high, taken.floor, list(taken.recent), taken.pending, limit
        )
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError, asyncpg.InvalidSchemaNameError) as exc:
        raise TableNotPollableError("/table", f"table {table.schema}.{table.name} cannot be read: {exc}", "") from exc
    except asyncpg.InsufficientPrivilegeError as exc:
        name = f"{table.schema}.{table.name}"
        raise TableNotPollableError(
            "/table", f"table polls may no longer read {name}: `{grant_hint(name)}` grants it", ""
        ) from exc
    polled = [
        PolledRow(r["payload"], list(r["position"]), r["ident"], r["xid"], r["below_high"], r["below_pending"])
        for r in rows
        if r["position"] is not None
    ]
    return PolledBatch(polled, rows[0]["floor"], list(rows[0]["open"]), rows[0]["at"])


async def last_position(conn: Conn, table: PolledTable) -> list[str] | None:
    """The position of the table's last row, or None when it is empty (read as the poll role)."""
    rows = await _as_poll_role(conn, table.last())
    position: list[str] | None = rows[0][0] if rows else None
    return position


async def _as_poll_role(conn: Conn, sql: str, *args: object) -> list[asyncpg.Record]:
    """Run a read as the poll role; the role is reset before the (possibly enclosing) transaction goes on."""
    async with conn.transaction():
        await conn.execute(f"SET LOCAL ROLE {POLL_ROLE}")
        rows = await conn.fetch(sql, *args)
        await conn.execute("RESET ROLE")
    return rows
