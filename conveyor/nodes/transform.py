"""The transform node: reshape data between steps, each key of its output from a template or a JSON Logic rule."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, PrivateAttr

from conveyor.definitions import NodeModel
from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, NodeKind, Outcome, StepContext
from conveyor.render_thread import off_loop
from conveyor.rules import Rule, RuleError, compile_rule, rule_errors

_RULE = "rule"


def _rule_of(value: JSONValue) -> JSONValue | None:
    """The rule a `set` value holds when it is written `{"rule": …}`; None for a template."""
    if isinstance(value, dict) and len(value) == 1 and _RULE in value:
        return value[_RULE]
    return None


class TransformNode(NodeModel):
    """Set the step's output, key by key, from templates (`"{{ input.name }}"`) or JSON Logic rules
    (`{"rule": {"+": [{"var": "input.n"}, 1]}}`); no side effects."""

    type: Literal["transform"]
    set: Annotated[dict[str, JSONValue], Field(min_length=1, max_length=1000)]

    templated: ClassVar[tuple[str, ...]] = ("set",)

    # Compiled on first use; a parsed definition version is cached, so each rule compiles once per version.
    _compiled: dict[str, Rule] | None = PrivateAttr(default=None)

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """What the rule compiler finds wrong with each rule."""
        return [
            error
            for key, value in self.set.items()
            if (rule := _rule_of(value)) is not None
            for error in rule_errors(rule, f"{pointer}/set/{key}/{_RULE}")
        ]

    def rules(self) -> dict[str, Rule]:
        """The keys set by a rule, each with its rule compiled."""
        if self._compiled is None:
            self._compiled = {k: compile_rule(r) for k, v in self.set.items() if (r := _rule_of(v)) is not None}
        return self._compiled


async def execute(node: TransformNode, ctx: StepContext) -> Outcome:
    """Render the templates, evaluate the rules, and answer the object they make, in the order of `set`."""
    rules = node.rules()
    templates = {k: v for k, v in node.set.items() if k not in rules}
    rendered = await ctx.render("set", templates) if templates else {}
    assert isinstance(rendered, dict)
    output: JSONObject = {}
    for key in node.set:
        if key in rules:
            try:
                output[key] = await off_loop(rules[key].evaluate, ctx.data)  # native, GIL held: off the loop
            except RuleError as exc:
                raise PermanentStepError(f"rule of {key!r} failed: {exc}", field=f"set/{key}") from exc
        else:
            output[key] = rendered[key]
    return Completed(output=output)


KIND = NodeKind(TransformNode, execute)
