"""The action node: run a registered action (a built-in such as send_email, or the team's own) with templated
params."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from conveyor.definitions import Duration, NodeModel, Reference
from conveyor.errors import StepError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import REGISTRY
from conveyor.nodes.actions.invocation import invoke
from conveyor.nodes.actions.registry import KEY, MAX_KEY_CHARS
from conveyor.nodes.base import Completed, Defer, NodeKind, Outcome, StepContext
from conveyor.nodes.throttle import ThrottledError
from conveyor.sendable import Sendable


class ActionNotProvidedError(StepError):
    """This worker does not provide the action: it was not loaded here."""

    code = "action_not_provided"


class ActionNode(NodeModel):
    """Run a registered action: a built-in (send_email, noop) or one of the team's own."""

    type: Literal["action"]
    action: str
    params: JSONObject = {}
    # Fail an action that has not called ctx.heartbeat() for this long (unset: no such check).
    heartbeat_timeout: Duration | None = None

    templated: ClassVar[tuple[str, ...]] = ("params",)

    @model_validator(mode="before")
    @classmethod
    def _action_default_retry(cls, raw: Any) -> Any:
        """A node that declares no `retry` takes its action's default (send_email's and send_sms's: DELIVERY_RETRY)."""
        if isinstance(raw, dict) and "retry" not in raw and isinstance(raw.get("action"), str):
            spec = REGISTRY.get(raw["action"])
            if spec is not None and spec.default_retry is not None:
                return {**raw, "retry": spec.default_retry}
        return raw

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """A name no action could have; whether one has it is checked against the published registry."""
        if len(self.action) <= MAX_KEY_CHARS and KEY.fullmatch(self.action):
            return []
        return [
            {
                "pointer": f"{pointer}/action",
                "value": self.action[:200],
                "message": "an action key is lower-case words of letters, digits and '_', joined by '.'",
            }
        ]

    def sendable_fields(self) -> tuple[Sendable, ...]:
        """None: an action receives its credentials as the secrets it declares (`ctx.secrets`), never through
        its params, so no param may name a secret."""
        return ()

    def references(self) -> list[Reference]:
        """The action it runs, checked against the published registry (with its params) when saved."""
        return [Reference("action", "/action", self.action)]


async def execute(node: ActionNode, ctx: StepContext) -> Outcome:
    """Render the params and run the action."""
    spec = REGISTRY.get(node.action)
    if spec is None:
        raise ActionNotProvidedError(f"action {node.action!r} is not loaded on this worker", field="action")
    params = await ctx.render("params", node.params)
    heartbeat = node.heartbeat_timeout.total_seconds() if node.heartbeat_timeout else None
    try:
        return Completed(output=await invoke(spec, params, ctx, heartbeat))
    except ThrottledError as exc:
        return Defer(exc.slot_at, {"throttled": exc.key})


KIND = NodeKind(ActionNode, execute)
