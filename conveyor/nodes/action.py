"""The action node: run a registered action with templated params."""

from __future__ import annotations

from conveyor.definitions import ActionNode
from conveyor.errors import PermanentStepError
from conveyor.nodes.actions import ACTIONS
from conveyor.nodes.base import Completed, Outcome, StepContext


class ActionExecutor:
    """Runs action nodes."""

    async def execute(self, node: ActionNode, ctx: StepContext) -> Outcome:
        """Render the params and run the action."""
        action = ACTIONS.get(node.action)
        if action is None:
            raise PermanentStepError(f"unknown action {node.action!r}", action=node.action)
        params = ctx.render("params", node.params)
        return Completed(output=await action(params, ctx))
