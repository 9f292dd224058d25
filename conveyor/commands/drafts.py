"""Saving a workflow as a draft, checking a definition without saving it, and publishing a draft."""

from __future__ import annotations

from collections.abc import Collection

import structlog

from conveyor.commands.references import check_references
from conveyor.definitions import WorkflowDefinition
from conveyor.errors import NotFoundError
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.kinds import parse_definition
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.store import Pool, connection, transaction
from conveyor.store.drafts import insert_draft, publish_draft
from conveyor.store.workflows import Workflow, WorkflowVersion, get_workflow

log = structlog.get_logger(__name__)


async def check_definition(
    pool: Pool, raw: JSONValue, env_secrets: Collection[str] = frozenset(), namespace: str = DEFAULT_NAMESPACE
) -> WorkflowDefinition:
    """Validate a definition exactly as a save in the namespace would (shape, graph, references), storing
    nothing."""
    definition = parse_definition(raw)
    async with connection(pool) as conn:
        await check_references(conn, definition, env_secrets, namespace)
    return definition


async def save_draft(
    pool: Pool, raw: JSONValue, env_secrets: Collection[str] = frozenset(), namespace: str = DEFAULT_NAMESPACE
) -> WorkflowVersion:
    """Validate a definition as a save would, then store it as a draft of the namespace's workflow it names (a
    new, inactive workflow when none has that name)."""
    definition = parse_definition(raw)
    assert isinstance(raw, dict)  # parse_definition refuses anything else
    async with transaction(pool) as conn:
        await check_references(conn, definition, env_secrets, namespace)
        try:
            workflow_id = (await get_workflow(conn, definition.name, namespace)).id
        except NotFoundError:
            workflow_id = None
        draft = await insert_draft(conn, workflow_id, namespace, definition.name, definition.description, raw)
    log.info(
        "workflow_draft_saved", workflow=definition.name, workflow_id=str(draft.workflow_id), version=draft.version
    )
    return draft


async def publish(pool: Pool, workflow_ref: str, version: int, namespace: str = DEFAULT_NAMESPACE) -> Workflow:
    """Make a draft of the namespace's workflow the current version: new executions use it from now on."""
    async with transaction(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref, namespace)
        published = await publish_draft(conn, workflow.id, version)
    log.info("workflow_draft_published", workflow=published.name, workflow_id=str(published.id), version=version)
    return published
