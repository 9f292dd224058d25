"""A database's schema as comparable data, read from pg_catalog (pg_dump may be missing where tests run)."""

from __future__ import annotations

from conveyor.store import Conn

# Each query lists one kind of object in the public schema as rows of text, sorted, names included; column
# order (attnum) is left out: a column added by a migration comes last, wherever schema.sql writes it.
_QUERIES = {
    "relations": """
        SELECT c.relname, c.relkind::text, c.relpersistence::text, coalesce(array_to_string(
            ARRAY(SELECT o FROM unnest(c.reloptions) AS o ORDER BY o), ','), '')
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')""",
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
               coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attidentity::text, a.attgenerated::text,
               coalesce(co.collname, '')
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0
          AND NOT a.attisdropped""",
    "indexes": """
        SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype::text, pg_get_constraintdef(k.oid), k.condeferrable::text
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'""",
    "triggers": """
        SELECT c.relname, t.tgname, pg_get_triggerdef(t.oid), t.tgenabled::text
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal""",
    "functions": """
        SELECT p.proname, pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'""",
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart::text, s.seqincrement::text,
               s.seqmax::text, s.seqmin::text, s.seqcache::text, s.seqcycle::text
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public'""",
    "types": """
        SELECT t.typname, t.typtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typelem = 0""",
    "comments": """
        SELECT c.relname, coalesce(a.attname, ''), d.description
        FROM pg_description d JOIN pg_class c ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
        WHERE n.nspname = 'public'""",
}

Catalog = dict[str, list[tuple[str, ...]]]


async def read_catalog(conn: Conn) -> Catalog:
    """Every table, column, index, constraint, trigger, function, sequence, type and comment, by kind."""
    return {kind: sorted(tuple(row) for row in await conn.fetch(sql)) for kind, sql in _QUERIES.items()}


async def table_names(conn: Conn) -> list[str]:
    """The public schema's tables."""
    rows = await conn.fetch(
        "SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
    )
    return sorted(row["relname"] for row in rows)


def catalog_difference(migrated: Catalog, created: Catalog) -> dict[str, dict[str, list[tuple[str, ...]]]]:
    """What each catalog holds that the other lacks, by kind; empty when the two schemas are the same."""
    difference = {}
    for kind in _QUERIES:
        only_migrated = [row for row in migrated[kind] if row not in created[kind]]
        only_created = [row for row in created[kind] if row not in migrated[kind]]
        if only_migrated or only_created:
            difference[kind] = {"only_migrated": only_migrated, "only_created": only_created}
    return difference
