"""A workflow's alert path (`on_failure`): when an execution fails, another workflow starts with what failed, in
the failing step's own transaction and under a dedupe key of the failure, so a crash at any line neither loses
the alert nor starts it twice."""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from conveyor.concurrency import slots_for
from conveyor.definitions import WorkflowDefinition
from conveyor.errors import ConveyorError
from conveyor.jsonvalue import JSONObject
from conveyor.render_thread import off_loop
from conveyor.statemachines import FAILED
from conveyor.store import Conn
from conveyor.store.executions import Execution, NewExecution, insert_execution
from conveyor.store.steps import StepCommit
from conveyor.store.workflows import get_workflow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FailureAlert:
    """The alert a failure starts: the workflow by name, its input, and the failure's own dedupe key."""

    flow: str
    input: JSONObject
    dedupe_key: str
    namespace: str


def failure_alert(ex: Execution, definition: WorkflowDefinition, commit: StepCommit) -> FailureAlert | None:
    """The alert this commit starts: when it fails a top-level execution and the workflow names an alert path. A
    child's failure fails its parent's step, so the top-level execution alerts, once, on its own path."""
    if commit.state != FAILED or definition.on_failure is None or ex.parent_id is not None:
        return None
    alert_input: JSONObject = {
        "execution_id": str(ex.id),
        "workflow": definition.name,
        "workflow_id": str(ex.workflow_id),
        "node": commit.node,
        "error": commit.error,
        "input": ex.input,
    }
    # One failure, one alert: an operator's retry (a new generation) or rerun (a new visit) may fail again.
    key = f"on_failure:{ex.id}:{ex.generation}:{commit.visit}"
    return FailureAlert(definition.on_failure.flow, alert_input, key, ex.namespace)


async def start_alert(conn: Conn, alert: FailureAlert) -> None:
    """Start the alert's workflow in the caller's transaction, once for its key; a workflow since deleted,
    deactivated or unable to take the input is logged, and the failure commits without it."""
    try:
        flow = await get_workflow(conn, alert.flow, alert.namespace)
        if not flow.active:
            log.warning("alert_flow_inactive", flow=alert.flow)
            return
        slots = await off_loop(slots_for, flow.definition, alert.input)
    except ConveyorError as exc:
        log.warning("alert_flow_unavailable", flow=alert.flow, error=exc.message)
        return
    new = NewExecution(
        flow.id,
        flow.version,
        flow.start_node,
        alert.input,
        dedupe_key=alert.dedupe_key,
        slots=slots,
        namespace=flow.namespace,
    )
    execution, created = await insert_execution(conn, new)
    if created:
        log.info("alert_started", flow=alert.flow, execution_id=str(execution.id), failed=alert.input["execution_id"])
