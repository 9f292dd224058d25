"""The action node: run a registered action, such as send_email, with templated params."""

from __future__ import annotations

from typing import ClassVar, Literal

from conveyor.definitions import NodeModel
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import ACTIONS
from conveyor.nodes.base import Completed, NodeKind, Outcome, StepContext


class ActionNode(NodeModel):
    """Run a registered action, such as send_email."""

    type: Literal["action"]
    action: str
    params: JSONObject = {}

    templated: ClassVar[tuple[str, ...]] = ("params",)

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """An action that is not registered."""
        if self.action in ACTIONS:
            return []
        known = ", ".join(sorted(ACTIONS))
        return [
            {
                "pointer": f"{pointer}/action",
                "value": self.action,
                "message": f"unknown action {self.action!r}; known: {known}",
            }
        ]


async def execute(node: ActionNode, ctx: StepContext) -> Outcome:
    """Render the params and run the action."""
    params = ctx.render("params", node.params)
    return Completed(output=await ACTIONS[node.action](params, ctx))


KIND = NodeKind(ActionNode, execute)
