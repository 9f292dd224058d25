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
from conveyor.store.statement import Statement

POLL_ROLE = "conveyor_poll"
"""The PostgreSQL role every table poll reads as; schema.sql creates it, an operator grants it tables."""

# Everything resolve_table needs, in one statement and so one snapshot (a table dropped meanwhile is simply not
# there): the relation, an unqualified name found as PostgreSQL would find it, along the search path; whether
# the poll role may read it; the cursor column and whether its type has a default btree order; the primary key's
# columns in key order; and whether a unique index on the cursor column alone exists.
_CATALOG = Statement("""
SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind,
       has_schema_privilege(:role, n.oid, 'USAGE') AND has_table_privilege(:role, c.oid, 'SELECT') AS granted,
       col.attname, col.type, col.ordered,
       coalesce(pk.names, '{}') AS key_names, coalesce(pk.types, '{}') AS key_types,
       EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
               WHERE i.indrelid = c.oid AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL
                 AND a.attname = :cursor) AS unique_on_cursor
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
           EXISTS (SELECT 1 FROM pg_opclass o JOIN pg_am m ON m.oid = o.opcmethod
                   WHERE m.amname = 'btree' AND o.opcdefault
                     AND o.opcintype = coalesce(nullif(t.typbasetype, 0), a.atttypid)) AS ordered
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attname = :cursor AND a.attnum > 0 AND NOT a.attisdropped
) col ON true
LEFT JOIN LATERAL (
    SELECT array_agg(a.attname ORDER BY k.n) AS names,
           array_agg(format_type(a.atttypid, a.atttypmod) ORDER BY k.n) AS types
    FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
    WHERE i.indrelid = c.oid AND i.indisprimary
) pk ON true
WHERE c.oid = to_regclass(CASE WHEN :schema::text IS NULL THEN quote_ident(:name)
                               ELSE quote_ident(:schema) || '.' || quote_ident(:name) END)
""")

# The snapshot's oldest running transaction and next one, and the transactions open just after it was taken.
_FACTS = """
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS floor,
       pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax, ({open}) AS open, statement_timestamp() AS at
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
_FACTS = _FACTS.format(open=_OPEN_NOW)


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

    def _typed(self, name: str) -> str:
        # A position bound as text, each element cast to its column's type (spliced in by `_statement`).
        return "(" + ", ".join(f"(:{name}::text[])[{i + 1}]::{{type{i}}}" for i in range(len(self.order))) + ")"

    def _statement(self, template: str) -> Statement:
        # The catalog's names go in after the parameters are named: a quoted identifier may hold `:word`.
        text = {"table": f"{_quote(self.schema)}.{_quote(self.name)}"}
        for i, c in enumerate(self.order):
            text |= {f"column{i}": _quote(c.name), f"type{i}": c.type}
        return Statement(template).spliced(**text)

    def rows(self, *, from_low: bool) -> Statement:
        """The statement reading up to `limit` rows not yet taken, in order, with their inserting transaction.

        `low` (rows at or below are all taken; left out when there is none), `high` and `floor` (rows at or
        below high whose transaction is older than floor are taken), `recent` the other rows taken at or below
        high (their identity), `xmax` the snapshot's xmax, against which a row's 32-bit `xmin` is widened.
        """
        columns = [f"t.{{column{i}}}" for i in range(len(self.order))]
        cols = ", ".join(columns)
        ident = f"ARRAY[{', '.join(f'{c}::text' for c in columns)}]::text"
        xmin, epoch = "t.xmin::text::bigint", "((:xmax::bigint >> 32) << 32)"
        xid = (
            f"CASE WHEN {xmin} < 3 THEN 0 WHEN {epoch} + {xmin} > :xmax::bigint THEN {epoch} + {xmin} - 4294967296"
            f" ELSE {epoch} + {xmin} END"
        )
        after_low = f"({cols}) > {self._typed('low')}" if from_low else ":low::text[] IS NULL"
        return self._statement(
            f"SELECT to_jsonb(t) AS payload, ARRAY[{', '.join(f'{c}::text' for c in columns)}]"
            f" AS position, {ident} AS ident, {xid} AS xid "
            "FROM {table} t "
            f"WHERE {after_low} "
            f"AND NOT coalesce(({cols}) <= {self._typed('high')} AND ({xid} < :floor::bigint"
            f" OR EXISTS (SELECT 1 FROM unnest(:recent::text[]) AS k(ident) WHERE k.ident = {ident})), false) "
            f"ORDER BY {cols} LIMIT :limit"
        )

    def below(self) -> Statement:
        """The statement saying whether a `position` sorts below the `high` mark and the `pending` low."""
        return self._statement(
            f"SELECT coalesce({self._typed('position')} < {self._typed('high')}, false) AS below_high, "
            f"coalesce({self._typed('position')} < {self._typed('pending')}, false) AS below_pending"
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
    relation = await conn.fetchrow(
        _CATALOG.sql, *_CATALOG.args(role=POLL_ROLE, cursor=cursor, schema=schema or None, name=name)
    )
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
    """A row not yet taken: the row as JSON, its position (cursor, then key values, as text), its identity and
    the transaction that inserted it."""

    payload: JSONObject
    position: list[str]
    ident: str
    xid: int


@dataclass(frozen=True, slots=True)
class PolledBatch:
    """One read: its rows in order; under its snapshot the oldest running transaction, and those open after it;
    whether its last row sorts below the high mark and below the pending low."""

    rows: list[PolledRow]
    floor: int
    open: list[str]
    at: datetime
    last_below_high: bool = False
    last_below_pending: bool = False


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
    """Up to `limit` rows not yet taken, in order, read as the poll role in one snapshot of their own.

    The snapshot is taken by the first statement, which reads its facts; the open transactions are read after.
    """
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            await conn.execute(f"SET LOCAL ROLE {POLL_ROLE}")
            facts = await conn.fetchrow(_FACTS)
            assert facts is not None
            rows = table.rows(from_low=taken.low is not None)
            args = rows.args(
                low=taken.low,
                high=taken.high,
                floor=taken.floor,
                recent=list(taken.recent),
                limit=limit,
                xmax=facts["xmax"],
            )
            found = await conn.fetch(rows.sql, *args)
            last = list(found[-1]["position"]) if found else None
            below = table.below()
            below_args = below.args(position=last, high=taken.high, pending=taken.pending)
            flagged = await conn.fetchrow(below.sql, *below_args) if last else None
    except (asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError, asyncpg.InvalidSchemaNameError) as exc:
        raise TableNotPollableError("/table", f"table {table.schema}.{table.name} cannot be read: {exc}", "") from exc
    except asyncpg.InsufficientPrivilegeError as exc:
        name = f"{table.schema}.{table.name}"
        raise TableNotPollableError(
            "/table", f"table polls may no longer read {name}: `{grant_hint(name)}` grants it", ""
        ) from exc
    polled = [PolledRow(r["payload"], list(r["position"]), r["ident"], r["xid"]) for r in found]
    flags = (flagged["below_high"], flagged["below_pending"]) if flagged else (False, False)
    return PolledBatch(polled, facts["floor"], list(facts["open"]), facts["at"], *flags)


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
