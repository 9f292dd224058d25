"""The shared-flow node: run another workflow as a child execution and take its output."""

from __future__ import annotations

from conveyor.definitions import SharedFlowNode
from conveyor.errors import StepError
from conveyor.nodes.base import Completed, Outcome, SpawnChild, StepContext, WaitForChild


class SharedFlowExecutor:
    """Runs shared-flow nodes."""

    async def execute(self, node: SharedFlowNode, ctx: StepContext) -> Outcome:
        """Start the child on the first run; afterwards, wait for it or take its result."""
        key = f"{ctx.idempotency_key}:{ctx.generation}:{ctx.attempt}"  # each attempt, each operator retry: a new child
        child = await ctx.services.flows.child(ctx.execution_id, key)
        if child is None:
            flow = await ctx.services.flows.resolve(node.flow)
            # Without an `input` mapping the child gets the parent's input as it is: data, never a template.
            child_input = ctx.render("input", node.input) if node.input else ctx.data["input"]
            return SpawnChild(
                workflow_id=flow.workflow_id,
                workflow_version=flow.version,
                start_node=flow.start_node,
                input=child_input,
                dedupe_key=key,
            )
        if child.state == "completed":
            return Completed(output=child.output)
        if child.state in ("failed", "cancelled"):
            raise StepError(f"shared flow {node.flow!r} {child.state}", child_id=str(child.id), child_error=child.error)
        return WaitForChild(child_id=child.id)
