"""Workflows and their versions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from conveyor.errors import ConflictError, NotFoundError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.statement import Statement


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow's current version."""

    id: uuid.UUID
    name: str
    description: str | None
    version: int
    active: bool
    definition: JSONObject
    created_at: datetime
    updated_at: datetime
    namespace: str

    @property
    def start_node(self) -> str:
        """The node a new execution of the current version starts at."""
        return str(self.definition["start"])


WORKFLOW_COLUMNS = "id, name, description, version, active, definition, created_at, updated_at, namespace"

_INSERT = Statement(f"""
WITH w AS (
    INSERT INTO workflows (id, namespace, name, description, definition)
    VALUES (:id, :namespace, :name, :description, :definition)
    RETURNING {WORKFLOW_COLUMNS}
), v AS (
    INSERT INTO workflow_versions (workflow_id, version, namespace, definition)
    SELECT id, version, namespace, definition FROM w
)
SELECT {WORKFLOW_COLUMNS} FROM w
""")


async def insert_workflow(
    conn: Conn, namespace: str, name: str, description: str | None, definition: JSONObject
) -> Workflow:
    """Create a workflow at version 1, in a namespace."""
    try:
        row = await conn.fetchrow(
            _INSERT.sql,
            *_INSERT.args(
                id=uuid.uuid4(), namespace=namespace, name=name, description=description, definition=definition
            ),
        )
    except asyncpg.UniqueViolationError as exc:
        raise ConflictError(f"a workflow named {name!r} already exists", field="/name", value=name) from exc
    assert row is not None
    return Workflow(**dict(row))


_BY_ID = Statement(f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE id = :id AND namespace = :namespace")
_BY_NAME = Statement(f"SELECT {WORKFLOW_COLUMNS} FROM workflows WHERE namespace = :namespace AND name = :name")


async def get_workflow(conn: Conn, ref: str | uuid.UUID, namespace: str) -> Workflow:
    """Find a namespace's workflow by id, or by name when ref is not a UUID; another namespace's is not found."""
    row = None
    if isinstance(ref, uuid.UUID):
        row = await conn.fetchrow(_BY_ID.sql, *_BY_ID.args(id=ref, namespace=namespace))
    else:
        try:
            row = await conn.fetchrow(_BY_ID.sql, *_BY_ID.args(id=uuid.UUID(ref), namespace=namespace))
        except ValueError:
            row = None
        if row is None:
            try:
                row = await conn.fetchrow(_BY_NAME.sql, *_BY_NAME.args(name=ref, namespace=namespace))
            except asyncpg.DataError:
                row = None  # a name PostgreSQL cannot even hold names no workflow
    if row is None:
        raise NotFoundError(f"workflow {str(ref)!r} not found", field="workflow", value=str(ref))
    return Workflow(**dict(row))


_LIST = Statement(f"""
SELECT {WORKFLOW_COLUMNS} FROM workflows
WHERE namespace = :namespace AND (:after::text IS NULL OR name > :after)
ORDER BY name
LIMIT :limit
""")


async def list_workflows(conn: Conn, namespace: str, after: str | None, limit: int) -> list[Workflow]:
    """A namespace's workflows in name order (the unique index serves it), after the name `after` when given."""
    args = _LIST.args(namespace=namespace, after=after, limit=limit)
    return [Workflow(**dict(r)) for r in await conn.fetch(_LIST.sql, *args)]


# A new version also reactivates: storing one says the workflow is meant to run. Its number follows the current
# one and any draft stored after it (conveyor/store/drafts.py); `version + 1` is read again from the row when a
# concurrent PUT changed it first.
_NEW_VERSION = Statement(f"""
WITH w AS (
    UPDATE workflows
    SET name = :name, description = :description, definition = :definition, active = true, updated_at = now(),
        version = greatest(version + 1, (SELECT max(version) + 1 FROM workflow_versions WHERE workflow_id = :id))
    WHERE id = :id
    RETURNING {WORKFLOW_COLUMNS}
), v AS (
    INSERT INTO workflow_versions (workflow_id, version, namespace, definition)
    SELECT id, version, namespace, definition FROM w
)
SELECT {WORKFLOW_COLUMNS} FROM w
""")


async def insert_version(
    conn: Conn, workflow_id: uuid.UUID, name: str, description: str | None, definition: JSONObject
) -> Workflow:
    """Store a new current version of a workflow; earlier versions stay as they were."""
    try:
        row = await conn.fetchrow(
            _NEW_VERSION.sql,
            *_NEW_VERSION.args(name=name, description=description, definition=definition, id=workflow_id),
        )
    except asyncpg.UniqueViolationError as exc:
        raise ConflictError(f"a workflow named {name!r} already exists", field="/name", value=name) from exc
    if row is None:
        raise NotFoundError(f"workflow {workflow_id} not found", field="workflow", value=str(workflow_id))
    return Workflow(**dict(row))


@dataclass(frozen=True, slots=True)
class WorkflowVersion:
    """One immutable version of a workflow's definition; a `draft` is not used by executions until published."""

    workflow_id: uuid.UUID
    version: int
    definition: JSONObject
    created_at: datetime
    draft: bool = False


VERSION_COLUMNS = "workflow_id, version, definition, created_at, draft"
_VERSIONS = Statement(
    f"SELECT {VERSION_COLUMNS} FROM workflow_versions WHERE workflow_id = :workflow_id ORDER BY version DESC"
)
_ONE_VERSION = Statement(
    f"SELECT {VERSION_COLUMNS} FROM workflow_versions WHERE workflow_id = :workflow_id AND version = :version"
)


async def list_versions(conn: Conn, workflow_id: uuid.UUID) -> list[WorkflowVersion]:
    """Every version of a workflow, newest first."""
    return [
        WorkflowVersion(**dict(r)) for r in await conn.fetch(_VERSIONS.sql, *_VERSIONS.args(workflow_id=workflow_id))
    ]


async def get_version(conn: Conn, workflow_id: uuid.UUID, version: int) -> WorkflowVersion:
    """One version of a workflow; NotFoundError when it has no such version."""
    row = await conn.fetchrow(_ONE_VERSION.sql, *_ONE_VERSION.args(workflow_id=workflow_id, version=version))
    if row is None:
        raise NotFoundError(f"workflow {workflow_id} has no version {version}", field="version", value=version)
    return WorkflowVersion(**dict(row))


_DEACTIVATE = Statement(
    f"UPDATE workflows SET active = false, updated_at = now() WHERE id = :id RETURNING {WORKFLOW_COLUMNS}"
)


async def deactivate_workflow(conn: Conn, workflow_id: uuid.UUID) -> Workflow:
    """Stop new executions of a workflow; its history and versions stay."""
    row = await conn.fetchrow(_DEACTIVATE.sql, *_DEACTIVATE.args(id=workflow_id))
    if row is None:
        raise NotFoundError(f"workflow {workflow_id} not found", field="workflow", value=str(workflow_id))
    return Workflow(**dict(row))


_VERSION = Statement("SELECT definition FROM workflow_versions WHERE workflow_id = :workflow_id AND version = :version")


async def get_definition(conn: Conn, workflow_id: uuid.UUID, version: int) -> JSONObject:
    """The definition of one version of a workflow."""
    definition: JSONObject | None = await conn.fetchval(
        _VERSION.sql, *_VERSION.args(workflow_id=workflow_id, version=version)
    )
    if definition is None:
        raise NotFoundError(f"workflow {workflow_id} has no version {version}")
    return definition


_EXISTING = Statement("""
SELECT name, id::text AS id FROM workflows
WHERE namespace = :namespace AND (name = ANY(:refs) OR id::text = ANY(:refs))
""")


async def existing_workflow_refs(conn: Conn, refs: list[str], namespace: str) -> set[str]:
    """Which of these names or ids name an existing workflow of the namespace (returned as given)."""
    normal = {ref: _normal_ref(ref) for ref in refs}
    rows = await conn.fetch(_EXISTING.sql, *_EXISTING.args(refs=list(normal.values()), namespace=namespace))
    found = {r["name"] for r in rows} | {r["id"] for r in rows}
    return {ref for ref, key in normal.items() if key in found}


def _normal_ref(ref: str) -> str:
    try:
        return str(uuid.UUID(ref))
    except ValueError:
        return ref
