"""The condition node: a JSON Logic rule picks `then` or `else`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from conveyor.definitions import Edge, NodeId, NodeModel
from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, NodeKind, Outcome, StepContext
from conveyor.render_thread import off_loop
from conveyor.rules import Rule, RuleError, compile_rule, is_truthy, rule_errors


class ConditionNode(NodeModel):
    """Choose the next node with a JSON Logic rule."""

    type: Literal["condition"]
    rule: JSONValue
    then: NodeId | None = None
    else_: NodeId | None = Field(default=None, alias="else")

    # Compiled on first use; a parsed definition version is cached, so each rule compiles once per version.
    _compiled: Rule | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _branches_not_next(self) -> ConditionNode:
        if self.next is not None:
            raise ValueError("a condition node goes on by 'then' and 'else', not 'next'")
        return self

    def outgoing(self) -> list[Edge]:
        """`then` and `else`."""
        return [Edge("/then", self.then, "then"), Edge("/else", self.else_, "else")]

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """What the rule compiler finds wrong with the rule."""
        return rule_errors(self.rule, f"{pointer}/rule")

    def compiled(self) -> Rule:
        """The rule, compiled."""
        if self._compiled is None:
            self._compiled = compile_rule(self.rule)
        return self._compiled


async def execute(node: ConditionNode, ctx: StepContext) -> Outcome:
    """Evaluate the rule against the execution's data and branch."""
    try:
        result = await off_loop(node.compiled().evaluate, ctx.data)  # native, GIL held: off the loop
    except RuleError as exc:
        raise PermanentStepError(f"rule failed: {exc}") from exc
    matched = is_truthy(result)
    return Completed(output={"result": matched}, branched=True, branch=(node.then if matched else node.else_))


KIND = NodeKind(ConditionNode, execute)
