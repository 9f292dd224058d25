"""The shared-flow node: run another workflow as a child execution and take its output."""

from __future__ import annotations

from typing import ClassVar, Literal

from conveyor.concurrency import slots_for
from conveyor.definitions import NodeModel, Reference
from conveyor.errors import PermanentStepError, StepError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.base import Completed, NodeKind, Outcome, SpawnChild, StepContext, WaitForChild
from conveyor.render_thread import off_loop
from conveyor.statemachines import COMPLETED, TERMINAL_STATES
from conveyor.store import connection
from conveyor.store.descendants import flow_depth
from conveyor.store.executions import find_child
from conveyor.store.workflows import get_workflow


class SharedFlowNode(NodeModel):
    """Run another workflow as a child execution and wait for it."""

    type: Literal["shared_flow"]
    flow: str
    input: JSONObject = {}

    templated: ClassVar[tuple[str, ...]] = ("input",)

    def references(self) -> list[Reference]:
        """The workflow it runs."""
        return [Reference("workflow", "/flow", self.flow)]


class FlowTooDeepError(PermanentStepError):
    """Shared flows would nest deeper than CONVEYOR_MAX_FLOW_DEPTH allows."""

    code = "flow_too_deep"


async def execute(node: SharedFlowNode, ctx: StepContext) -> Outcome:
    """Start the child on the first run, unless it would nest too deep; afterwards, wait for it or take its
    result."""
    key = f"{ctx.idempotency_key}:{ctx.generation}:{ctx.attempt}"  # each attempt, each operator retry: a new child
    limit = ctx.services.max_flow_depth
    async with connection(ctx.services.pool) as conn:
        child = await find_child(conn, ctx.execution_id, key)
        flow = await get_workflow(conn, node.flow, ctx.namespace) if child is None else None
        if flow is not None and await flow_depth(conn, ctx.execution_id, limit) >= limit:
            raise FlowTooDeepError(
                f"shared flow {node.flow!r} would nest more than CONVEYOR_MAX_FLOW_DEPTH ({limit}) levels deep",
                setting="CONVEYOR_MAX_FLOW_DEPTH",
                limit=limit,
            )
    if flow is not None:
        # Without an `input` mapping the child gets the parent's input as it is: data, never a template.
        child_input = await ctx.render("input", node.input) if node.input else ctx.data["input"]
        return SpawnChild(
            workflow_id=flow.id,
            workflow_version=flow.version,
            start_node=flow.start_node,
            input=child_input,
            dedupe_key=key,
            slots=await off_loop(slots_for, flow.definition, child_input),  # a key render: off the loop
        )
    assert child is not None
    if child.state == COMPLETED:
        return Completed(output=child.output)
    too_deep = isinstance(child.error, dict) and child.error.get("code") == FlowTooDeepError.code
    if child.state in TERMINAL_STATES and too_deep:
        # Retrying here would only nest as deep again: every level above fails at once.
        raise FlowTooDeepError(
            f"shared flow {node.flow!r} nests too deep", child_id=str(child.id), child_error=child.error
        )
    if child.state in TERMINAL_STATES:
        raise StepError(f"shared flow {node.flow!r} {child.state}", child_id=str(child.id), child_error=child.error)
    return WaitForChild(child_id=child.id)


KIND = NodeKind(SharedFlowNode, execute)
