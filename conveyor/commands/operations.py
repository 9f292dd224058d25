"""What operators and the API do to workflows and executions, validated and transactional."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection

import structlog

from conveyor.commands.bulk import BulkOutcome, bulk_operate
from conveyor.commands.references import check_references
from conveyor.concurrency import slots_for
from conveyor.engine.operator_move import move_execution
from conveyor.errors import ConflictError, ValidationError, WorkflowInactiveError
from conveyor.input_schema import check_input
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.kinds import load_definition, parse_definition
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.render_thread import off_loop
from conveyor.statemachines import RUNNING, STATES, TERMINAL_STATES
from conveyor.store import Conn, Pool, connection, transaction
from conveyor.store.audit_trail import Actor, record_executions
from conveyor.store.bulk import count_situations
from conveyor.store.executions import Execution, NewExecution, get_execution, insert_execution
from conveyor.store.selection import Selection
from conveyor.store.workflows import (
    Workflow,
    deactivate_workflow,
    get_definition,
    get_workflow,
    insert_version,
    insert_workflow,
)

log = structlog.get_logger(__name__)


async def create_workflow(
    pool: Pool, raw: JSONValue, env_secrets: Collection[str] = frozenset(), namespace: str = DEFAULT_NAMESPACE
) -> Workflow:
    """Validate a definition fully (shape, graph, references), then store it as version 1 in the namespace."""
    definition = parse_definition(raw)
    async with connection(pool) as conn:
        await check_references(conn, definition, env_secrets, namespace)
        workflow = await insert_workflow(conn, namespace, definition.name, definition.description, raw)
    log.info("workflow_created", workflow=workflow.name, workflow_id=str(workflow.id))
    return workflow


async def update_workflow(
    pool: Pool,
    workflow_ref: str,
    raw: JSONValue,
    env_secrets: Collection[str] = frozenset(),
    namespace: str = DEFAULT_NAMESPACE,
) -> Workflow:
    """Validate a definition exactly as `create_workflow` does, then store it as the workflow's next version.

    Executions already started keep the version they started with; new ones take this one.
    """
    definition = parse_definition(raw)
    async with transaction(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref, namespace)
        await check_references(conn, definition, env_secrets, namespace)
        updated = await insert_version(conn, workflow.id, definition.name, definition.description, raw)
    log.info("workflow_versioned", workflow=updated.name, workflow_id=str(updated.id), version=updated.version)
    return updated


# Every state an execution has not ended in.
_UNFINISHED = tuple(sorted(set(STATES) - TERMINAL_STATES))


async def deactivate(
    pool: Pool,
    workflow_ref: str,
    *,
    cancel_running: bool,
    actor: Actor | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> tuple[Workflow, BulkOutcome | None]:
    """Stop a workflow starting executions; 409 while some have not ended, unless told to cancel them."""
    async with transaction(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref, namespace)
        unfinished = Selection(workflow_id=workflow.id, states=_UNFINISHED, namespace=namespace)
        if not cancel_running:
            count = sum((await count_situations(conn, unfinished)).values())
            if count:
                raise ConflictError(
                    f"workflow {workflow.name!r} has {count} executions that have not ended;"
                    " cancel them first, or pass ?cancel_running=true",
                    field="cancel_running",
                    unfinished=count,
                )
        deactivated = await deactivate_workflow(conn, workflow.id)
    cancelled = await bulk_operate(pool, "cancel", unfinished, actor=actor) if cancel_running else None
    log.info("workflow_deactivated", workflow=workflow.name, workflow_id=str(workflow.id))
    return deactivated, cancelled


async def start_execution(
    pool: Pool,
    workflow_ref: str,
    input_: JSONObject,
    dedupe_key: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    *,
    priority: int = 0,
) -> tuple[Execution, bool]:
    """Create an execution of the namespace's workflow's current version; True when it is new."""
    async with connection(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref, namespace)
        if not workflow.active:
            raise WorkflowInactiveError(
                f"workflow {workflow.name!r} is not active (deactivated, or a draft not yet published); PUT a new"
                " version or publish a draft to use it",
                field="workflow",
                value=workflow_ref,
            )
        declared = workflow.definition.get("input_schema")
        if isinstance(declared, dict):
            check_input(declared, input_)
        execution, created = await insert_execution(
            conn,
            NewExecution(
                workflow.id,
                workflow.version,
                workflow.start_node,
                input_,
                dedupe_key=dedupe_key,
                slots=await off_loop(slots_for, workflow.definition, input_),  # a key render: off the loop
                priority=priority,
                namespace=workflow.namespace,
            ),
        )
    if created:
        log.info("execution_created", execution_id=str(execution.id), workflow=workflow.name)
    return execution, created


async def wait_for_end(pool: Pool, execution_id: uuid.UUID, timeout_seconds: float) -> Execution:
    """Poll until the execution ends or the timeout passes; return it as it then is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        async with connection(pool) as conn:
            execution = await get_execution(conn, execution_id)
        if execution.state in TERMINAL_STATES or loop.time() >= deadline:
            return execution
        await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0)))


async def operate(
    pool: Pool,
    execution_id: uuid.UUID,
    event: str,
    *,
    after_step: bool = False,
    from_node: str | None = None,
    actor: Actor | None = None,
) -> Execution:
    """Pause, resume, cancel or retry an execution; an illegal event raises IllegalTransitionError.

    Pausing a running step only flags it: the step finishes first and the worker then pauses it;
    resuming before that withdraws the request. A retry `from_node` runs a failed or completed execution
    again from that node, as a new visit (`rerun`: a new idempotency key, since the re-run is meant). The
    `actor` is named in the history and, with the execution, in the audit trail.
    """
    if from_node is not None:
        event = "rerun"
    async with transaction(pool) as conn:
        ex = await get_execution(conn, execution_id, for_update=True)
        if from_node is not None:
            await _check_node(conn, ex, from_node)
        in_flight = ex.state == RUNNING and ex.lease_owner is not None and not after_step
        await move_execution(
            conn, ex, event, in_flight=in_flight, restart_at=from_node, by=actor.detail() if actor else None
        )
        if actor is not None:
            await record_executions(conn, actor, event, [ex.id])
        updated = await get_execution(conn, execution_id)
    log.info("execution_operated", execution_id=str(execution_id), operation=event, state=updated.state)
    return updated


async def _check_node(conn: Conn, ex: Execution, node_id: str) -> None:
    definition = load_definition(await get_definition(conn, ex.workflow_id, ex.workflow_version))
    if node_id not in {node.id for node in definition.nodes}:
        raise ValidationError(
            f"version {ex.workflow_version} of the workflow has no node {node_id!r}", field="/from_node", value=node_id
        )
