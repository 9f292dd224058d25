"""What operators and the API do to workflows and executions, validated and transactional."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Literal

import structlog

from conveyor.definitions import WorkflowDefinition, definition_error
from conveyor.errors import IllegalTransitionError, NotFoundError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.kinds import parse_definition
from conveyor.statemachines import CANCELLED, RUNNING, TERMINAL_STATES, ExecutionModel, apply_events, moves
from conveyor.store import Conn, Pool, connection, transaction
from conveyor.store.descendants import cancel_descendants
from conveyor.store.executions import Execution, NewExecution, get_execution, insert_execution
from conveyor.store.operator import OperatorChange, apply_operator_change, set_pause_requested
from conveyor.store.steps import wake_parent
from conveyor.store.workflows import Workflow, existing_workflow_refs, get_workflow, insert_workflow

log = structlog.get_logger(__name__)


async def create_workflow(pool: Pool, raw: JSONValue) -> Workflow:
    """Validate a definition fully (shape, graph, references), then store it as version 1."""
    definition = parse_definition(raw)
    async with connection(pool) as conn:
        await _check_references(conn, definition)
        workflow = await insert_workflow(conn, definition.name, definition.description, raw)
    log.info("workflow_created", workflow=workflow.name, workflow_id=str(workflow.id))
    return workflow


async def _check_references(conn: Conn, definition: WorkflowDefinition) -> None:
    refs = [(pointer, ref.name) for pointer, ref in definition.references() if ref.kind == "workflow"]
    if not refs:
        return
    found = await existing_workflow_refs(conn, [name for _, name in refs])
    errors: list[JSONObject] = [
        {"pointer": pointer, "value": name, "message": f"shared flow {name!r} does not exist"}
        for pointer, name in refs
        if name not in found
    ]
    if errors:
        raise definition_error(errors)


async def start_execution(
    pool: Pool, workflow_ref: str, input_: JSONObject, dedupe_key: str | None = None
) -> tuple[Execution, bool]:
    """Create an execution of the workflow's current version; True when it is new."""
    async with connection(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref)
        execution, created = await insert_execution(
            conn, NewExecution(workflow.id, workflow.version, workflow.start_node, input_, dedupe_key=dedupe_key)
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


Wake = Literal["now", "keep", "clear"]
# How each operator event moves wake_at: due now, kept (a delay's due time survives a pause), or cleared.
_WAKE: dict[str, Wake] = {"pause": "keep", "cancel": "clear", "retry": "now"}
_CANCEL_MOVES = moves("cancel")


async def operate(pool: Pool, execution_id: uuid.UUID, event: str, *, after_step: bool = False) -> Execution:
    """Pause, resume, cancel or retry an execution; an illegal event raises IllegalTransitionError.

    Pausing a running step only flags it: the step finishes first and the worker then pauses it;
    resuming before that withdraws the request.
    """
    async with transaction(pool) as conn:
        ex = await get_execution(conn, execution_id, for_update=True)
        in_flight = ex.state == RUNNING and ex.lease_owner is not None and not after_step
        if in_flight and event in ("pause", "resume") and (event == "pause" or ex.pause_requested):
            await set_pause_requested(conn, ex.id, event == "pause")
        else:
            await _transition(conn, ex, event)
        updated = await get_execution(conn, execution_id)
    log.info("execution_operated", execution_id=str(execution_id), operation=event, state=updated.state)
    return updated


async def _transition(conn: Conn, ex: Execution, event: str) -> None:
    model = ExecutionModel(ex.state, ex.resume_state)
    transitions = apply_events(model, event)
    change = OperatorChange(
        ex.id,
        model.state,
        model.resume_state,
        attempt=1 if event == "retry" else ex.attempt,
        wake=_WAKE.get(event) or ("now" if model.state == RUNNING else "keep"),
        transitions=transitions,
        detail={"by": "operator"},
        new_generation=event == "retry",
    )
    await apply_operator_change(conn, change)
    if model.state == CANCELLED:
        detail: JSONObject = {"by": "operator", "cancelled_with": str(ex.id)}
        children = await cancel_descendants(conn, [ex.id], _CANCEL_MOVES, detail)
        if children:
            log.info("descendants_cancelled", execution_id=str(ex.id), count=len(children))
    if ex.parent_id is not None and model.state in TERMINAL_STATES:
        await wake_parent(conn, ex.parent_id, ex.id)


async def pause_after_step(pool: Pool, execution_id: uuid.UUID) -> None:
    """Carry out a pause that was asked for while a step ran, now that it has finished."""
    with contextlib.suppress(NotFoundError, IllegalTransitionError):  # gone or ended: nothing to pause
        await operate(pool, execution_id, "pause", after_step=True)
