"""The condition node: a JSON Logic rule picks `then` or `else`."""

from __future__ import annotations

import uuid

import datalogic_py

from conveyor.definitions import ConditionNode, compile_rule, is_truthy
from conveyor.errors import PermanentStepError
from conveyor.nodes.base import Completed, Outcome, StepContext


class ConditionExecutor:
    """Runs condition nodes, compiling each rule once per definition version."""

    def __init__(self) -> None:
        self._rules: dict[tuple[uuid.UUID, int, str], datalogic_py.Rule] = {}

    async def execute(self, node: ConditionNode, ctx: StepContext) -> Outcome:
        """Evaluate the rule against the execution's data and branch."""
        key = (ctx.workflow_id, ctx.workflow_version, node.id)
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = compile_rule(node.rule)
        try:
            result = rule.evaluate(ctx.data)
        except datalogic_py.DataLogicError as exc:
            raise PermanentStepError(f"rule failed: {exc}") from exc
        matched = is_truthy(result)
        return Completed(output={"result": matched}, branched=True, branch=(node.then if matched else node.else_))
