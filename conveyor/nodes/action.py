"""The action node: run a registered action, such as send_email, with templated params."""

from __future__ import annotations

from typing import ClassVar, Literal

from conveyor.definitions import NodeModel, Reference
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import ACTIONS
from conveyor.nodes.base import Completed, Defer, NodeKind, Outcome, StepContext
from conveyor.nodes.throttle import ThrottledError
from conveyor.sendable import Sendable


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

    def sendable_fields(self) -> tuple[Sendable, ...]:
        """The params its action declares as credentials."""
        kind = ACTIONS.get(self.action)
        return tuple(Sendable(f"/params/{p}", "value") for p in kind.credentials) if kind else ()

    def references(self) -> list[Reference]:
        """The email template it sends, when named literally (a templated name is known only at run time)."""
        kind = ACTIONS.get(self.action)
        param = kind.template_param if kind else None
        name = self.params.get(param) if param else None
        if not isinstance(name, str) or "{{" in name or "{%" in name:
            return []
        return [Reference("template", f"/params/{param}", name)]


async def execute(node: ActionNode, ctx: StepContext) -> Outcome:
    """Render the params and run the action."""
    params = await ctx.render("params", node.params)
    try:
        return Completed(output=await ACTIONS[node.action].run(params, ctx))
    except ThrottledError as exc:
        return Defer(exc.slot_at, {"throttled": exc.key})


KIND = NodeKind(ActionNode, execute)
