"""Draft versions of workflows: stored and numbered like any version, used by no execution until published.

A draft of a new workflow creates it inactive (starts are refused) with the draft as version 1; a draft of an
existing one leaves its current version as it is. Publishing a draft makes it the current version.
"""

from __future__ import annotations

import uuid

import asyncpg

from conveyor.errors import ConflictError, NotFoundError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Conn
from conveyor.store.statement import Statement
from conveyor.store.workflows import VERSION_COLUMNS, WORKFLOW_COLUMNS, Workflow, WorkflowVersion

_NEW_WORKFLOW = Statement(f"""
WITH w AS (
    INSERT INTO workflows (id, namespace, name, description, definition, active)
    VALUES (:id, :namespace, :name, :description, :definition, false)
    RETURNING id, version, namespace, definition
)
INSERT INTO workflow_versions (workflow_id, version, namespace, definition, draft)
SELECT id, version, namespace, definition, true FROM w
RETURNING {VERSION_COLUMNS}
""")

# The workflow's row is locked first (its own statement, so the number below is read after the lock): drafts
# and new versions of one workflow are numbered one at a time.
_LOCK = Statement("SELECT 1 FROM workflows WHERE id = :workflow_id FOR UPDATE")
_NEW_DRAFT = Statement(f"""
INSERT INTO workflow_versions (workflow_id, version, namespace, definition, draft)
SELECT :workflow_id, max(version) + 1, :namespace, :definition, true FROM workflow_versions
WHERE workflow_id = :workflow_id
RETURNING {VERSION_COLUMNS}
""")


async def insert_draft(
    conn: Conn,
    workflow_id: uuid.UUID | None,
    namespace: str,
    name: str,
    description: str | None,
    definition: JSONObject,
) -> WorkflowVersion:
    """Store a draft as the next version of the workflow (of the namespace), or (without one) as version 1 of a
    new, inactive one; in the caller's transaction."""
    try:
        if workflow_id is None:
            values = {
                "id": uuid.uuid4(),
                "namespace": namespace,
                "name": name,
                "description": description,
                "definition": definition,
            }
            row = await conn.fetchrow(_NEW_WORKFLOW.sql, *_NEW_WORKFLOW.args(**values))
        else:
            await conn.execute(_LOCK.sql, *_LOCK.args(workflow_id=workflow_id))
            args = _NEW_DRAFT.args(workflow_id=workflow_id, namespace=namespace, definition=definition)
            row = await conn.fetchrow(_NEW_DRAFT.sql, *args)
    except asyncpg.UniqueViolationError as exc:
        raise ConflictError(f"a workflow named {name!r} already exists", field="/name", value=name) from exc
    assert row is not None
    return WorkflowVersion(**dict(row))


_PUBLISH = Statement(f"""
WITH v AS (
    UPDATE workflow_versions SET draft = false
    WHERE workflow_id = :workflow_id AND version = :version AND draft
    RETURNING workflow_id, version, definition
)
UPDATE workflows w
SET version = v.version, definition = v.definition, name = v.definition->>'name',
    description = v.definition->>'description', active = true, updated_at = now()
FROM v WHERE w.id = v.workflow_id
RETURNING {", ".join(f"w.{c}" for c in WORKFLOW_COLUMNS.split(", "))}
""")
_IS_VERSION = Statement("SELECT draft FROM workflow_versions WHERE workflow_id = :workflow_id AND version = :version")


async def publish_draft(conn: Conn, workflow_id: uuid.UUID, version: int) -> Workflow:
    """Make a draft the workflow's current version (and the workflow active); 409 for a version not a draft."""
    try:
        row = await conn.fetchrow(_PUBLISH.sql, *_PUBLISH.args(workflow_id=workflow_id, version=version))
    except asyncpg.UniqueViolationError as exc:
        raise ConflictError("another workflow already has this draft's name", field="/name") from exc
    if row is not None:
        return Workflow(**dict(row))
    if await conn.fetchval(_IS_VERSION.sql, *_IS_VERSION.args(workflow_id=workflow_id, version=version)) is None:
        raise NotFoundError(f"workflow {workflow_id} has no version {version}", field="version", value=version)
    raise ConflictError(f"version {version} is not a draft: it is published already", field="version", value=version)
