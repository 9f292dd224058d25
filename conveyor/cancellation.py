"""A workflow's `cancel_on` rules: an event of a type, accepted by a JSON Logic rule, cancels its executions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

from conveyor.event_types import EventType
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.rules import Rule, RuleError, compile_rule, is_truthy, rule_errors


class CancelOn(BaseModel):
    """Cancel a running execution of the workflow when an `event` arrives that `match` accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: EventType
    # JSON Logic over `event` (`id`, `type`, `payload`) and the execution's `input`; none: every such event.
    match: JSONValue = None

    _compiled: Rule | None = PrivateAttr(default=None)

    @field_validator("match")
    @classmethod
    def _compiles(cls, match: JSONValue) -> JSONValue:
        errors = [] if match is None else rule_errors(match, "")
        if errors:
            raise ValueError(str(errors[0]["message"]))
        return match

    def accepts(self, event: JSONObject, input_: JSONObject) -> bool:
        """Whether this event cancels an execution with this input; a rule that breaks does not."""
        if self.match is None:
            return True
        if self._compiled is None:
            self._compiled = compile_rule(self.match)
        try:
            return is_truthy(self._compiled.evaluate({"event": event, "input": input_}))
        except RuleError:
            return False
