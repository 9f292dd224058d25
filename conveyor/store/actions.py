"""The published action registry: every version of every action a process declared, and who provides it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class PublishedAction:
    """One version of an action, as published; `workers` are the live workers that provide this version."""

    key: str
    version: str
    display_name: str
    description: str
    category: str
    params_schema: JSONObject
    output_schema: JSONObject | None
    secrets: list[str]
    template_param: str | None
    builtin: bool
    first_seen_at: datetime
    last_seen_at: datetime
    workers: list[str]


@dataclass(frozen=True, slots=True)
class Declared:
    """What a process publishes of one action it declares."""

    key: str
    version: str
    display_name: str
    description: str
    category: str
    params_schema: JSONObject
    output_schema: JSONObject | None
    secrets: Sequence[str]
    template_param: str | None
    builtin: bool


_PUBLISH = Statement("""
INSERT INTO actions AS a (key, version, display_name, description, category, params_schema, output_schema,
                          secrets, template_param, builtin)
SELECT d.key, d.version, d.display_name, d.description, d.category, d.params_schema, d.output_schema,
       ARRAY(SELECT jsonb_array_elements_text(d.secrets)), d.template_param, d.builtin
FROM jsonb_to_recordset(:declared::jsonb) AS d(
    key text, version text, display_name text, description text, category text, params_schema jsonb,
    output_schema jsonb, secrets jsonb, template_param text, builtin boolean)
ON CONFLICT (key, version) DO UPDATE
SET display_name = excluded.display_name, description = excluded.description, category = excluded.category,
    template_param = excluded.template_param, builtin = excluded.builtin, last_seen_at = now()
""")
_FORGET_PROVIDED = Statement("DELETE FROM worker_actions WHERE worker_id = :worker")
_PROVIDE = Statement("""
INSERT INTO worker_actions (worker_id, key, version)
SELECT :worker, d.key, d.version FROM jsonb_to_recordset(:declared::jsonb) AS d(key text, version text)
""")


async def publish_actions(conn: Conn, declared: Sequence[Declared], worker: str | None = None) -> None:
    """Record these actions; with `worker`, as exactly what that worker provides (in one transaction)."""
    rows = [_row(d) for d in declared]
    async with conn.transaction():
        await conn.execute(_PUBLISH.sql, *_PUBLISH.args(declared=rows))
        if worker is not None:
            await conn.execute(_FORGET_PROVIDED.sql, *_FORGET_PROVIDED.args(worker=worker))
            await conn.execute(_PROVIDE.sql, *_PROVIDE.args(worker=worker, declared=rows))


# Each version with the live workers providing it. Per key: the versions some live worker provides; failing
# those, the version seen last (a worker that is down still defines what its action takes).
_VERSIONS = Statement("""
WITH versions AS (
    SELECT a.*,
           coalesce(array_agg(w.id ORDER BY w.id) FILTER (WHERE w.id IS NOT NULL), '{}') AS workers
    FROM actions a
    LEFT JOIN worker_actions p ON p.key = a.key AND p.version = a.version
    LEFT JOIN workers w ON w.id = p.worker_id AND w.stopped_at IS NULL
         AND w.heartbeat_at > now() - make_interval(secs => :live_seconds)
    WHERE (:keys::text[] IS NULL OR a.key = ANY(:keys::text[]))
      AND (:after::text IS NULL OR a.key > :after)
    GROUP BY a.key, a.version
), ranked AS (
    SELECT v.*,
           bool_or(cardinality(v.workers) > 0) OVER (PARTITION BY v.key) AS provided,
           row_number() OVER (PARTITION BY v.key ORDER BY v.last_seen_at DESC, v.version) AS recency
    FROM versions v
)
SELECT key, version, display_name, description, category, params_schema, output_schema, secrets,
       template_param, builtin, first_seen_at, last_seen_at, workers
FROM ranked
WHERE CASE WHEN provided THEN cardinality(workers) > 0 ELSE recency = 1 END
ORDER BY key, version
""")


async def action_versions(
    conn: Conn,
    live_seconds: float,
    *,
    keys: Sequence[str] | None = None,
    after: str | None = None,
) -> list[PublishedAction]:
    """The versions that define each action (those live workers provide, else the latest), in key order."""
    rows = await conn.fetch(
        _VERSIONS.sql,
        *_VERSIONS.args(
            live_seconds=live_seconds,
            keys=list(keys) if keys is not None else None,
            after=after,
        ),
    )
    return [
        PublishedAction(**{**dict(row), "secrets": list(row["secrets"]), "workers": list(row["workers"])})
        for row in rows
    ]


def _row(declared: Declared) -> JSONObject:
    return {
        "key": declared.key,
        "version": declared.version,
        "display_name": declared.display_name,
        "description": declared.description,
        "category": declared.category,
        "params_schema": declared.params_schema,
        "output_schema": declared.output_schema,
        "secrets": list(declared.secrets),
        "template_param": declared.template_param,
        "builtin": declared.builtin,
    }
