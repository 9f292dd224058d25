"""Filters as form builders write them: `{"combinator": "and" | "or", "conditions": [{"field", "operator",
"value"}, …]}`, groups nested in groups, compiled to the JSON Logic the rule engine evaluates.

A group is told from a JSON Logic rule by its `conditions` key (no JSON Logic operator has that name). It
compiles to one rule, so a group has the same bounds as any rule (depth, size, the operations an evaluation
may charge) and no cost of its own. There is no regex operator: a regular expression's cost on its input
cannot be bounded by the evaluator's operation budget.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.rules import rule_errors
from conveyor.validation_messages import problems

Operator = Literal[
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "not_exists",
    "in",
    "not_in",
]
# equals compares JSON values exactly (18 is not "18"), so no payload of another type breaks the filter
_COMPARISONS = {"equals": "===", "not_equals": "!==", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_TEXT = ("starts_with", "ends_with")
_UNARY = ("exists", "not_exists")
_LISTS = ("in", "not_in")
MAX_CONDITIONS = 100
MAX_GROUP_DEPTH = 8


class Condition(BaseModel):
    """One test of one field of the payload (a dotted path, as JSON Logic's `var` reads it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=200)
    operator: Operator
    value: JSONValue = None

    def problem(self) -> tuple[str, str] | None:
        """The field (`value`) and why the value does not suit the operator."""
        if self.operator in _TEXT and not isinstance(self.value, str):
            return "value", f"{self.operator} compares text: the value must be a string"
        if self.operator in _LISTS and not isinstance(self.value, list):
            return "value", f"{self.operator} looks the field up in a list: the value must be a list"
        if self.operator in _UNARY and self.value is not None:
            return "value", f"{self.operator} takes no value: leave it out"
        return None

    def rule(self) -> JSONValue:
        """This condition as JSON Logic."""
        field: JSONValue = {"var": self.field}
        op = self.operator
        if op in _COMPARISONS:
            return {_COMPARISONS[op]: [field, self.value]}
        if op in ("contains", "not_contains"):
            found: JSONValue = {"in": [self.value, field]}
            return found if op == "contains" else {"!": found}
        if op in _TEXT:
            return {op: [field, self.value]}
        if op in _UNARY:
            return {"!==" if op == "exists" else "===": [field, None]}
        member: JSONValue = {"in": [field, self.value]}
        return member if op == "in" else {"!": member}


def _kind(raw: object) -> str:
    if isinstance(raw, dict):
        return "group" if "conditions" in raw else "condition"
    return "group" if isinstance(raw, Group) else "condition"


class Group(BaseModel):
    """Conditions and groups joined by `and` (all must hold) or `or` (one must)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    combinator: Literal["and", "or"] = "and"
    conditions: list[
        Annotated[
            Annotated[Condition, Tag("condition")] | Annotated[Group, Tag("group")],
            Discriminator(_kind),
        ]
    ] = Field(min_length=1, max_length=MAX_CONDITIONS)

    def rule(self) -> JSONValue:
        """This group as JSON Logic."""
        return {self.combinator: [c.rule() for c in self.conditions]}

    def problems(self, pointer: str, depth: int = 1) -> list[tuple[str, str]]:
        """(pointer, message) for each condition whose value does not suit its operator, and groups too deep."""
        if depth > MAX_GROUP_DEPTH:
            return [(pointer, f"groups may be nested at most {MAX_GROUP_DEPTH} deep")]
        found: list[tuple[str, str]] = []
        for i, c in enumerate(self.conditions):
            at = f"{pointer}/conditions/{i}"
            if isinstance(c, Group):
                found += c.problems(at, depth + 1)
            elif (problem := c.problem()) is not None:
                found.append((f"{at}/{problem[0]}", problem[1]))
        return found


_GROUP = TypeAdapter(Group)
_TAGS = ("condition", "group")


def is_group(raw: JSONValue) -> bool:
    """Whether a filter is written as a group of conditions rather than as JSON Logic."""
    return isinstance(raw, dict) and "conditions" in raw


def group_errors(raw: JSONValue, pointer: str) -> list[JSONObject]:
    """Every problem of a group, each at its JSON pointer (`/filter/conditions/0/operator`)."""
    if _depth(raw) > 2 * MAX_GROUP_DEPTH + 2:  # before pydantic recurses into it: a group and its list per level
        return [{"pointer": pointer, "message": f"groups may be nested at most {MAX_GROUP_DEPTH} deep", "value": None}]
    try:
        group = _GROUP.validate_python(raw)
    except PydanticValidationError as exc:
        return problems(exc, lambda loc: pointer + _pointer(loc), Group)
    found: list[JSONObject] = [{"pointer": p, "message": m, "value": None} for p, m in group.problems(pointer)]
    if found:
        return found
    # the compiled rule has the bounds of any rule; it has no places of its own, so they are the filter's
    return [{**e, "pointer": pointer} for e in rule_errors(group.rule(), pointer)]


def as_rule(raw: JSONValue) -> JSONValue:
    """The JSON Logic of a filter written either way (a group is compiled; a rule is itself)."""
    return _GROUP.validate_python(raw).rule() if is_group(raw) else raw


def _pointer(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the union's tag after a list index ("conditions", 0, "condition", "operator"); a pointer must not
    parts = [str(p) for i, p in enumerate(loc) if not (p in _TAGS and i > 0 and isinstance(loc[i - 1], int))]
    return "/" + "/".join(parts) if parts else ""


def _depth(raw: JSONValue) -> int:
    deepest = 0
    stack: list[tuple[JSONValue, int]] = [(raw, 1)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest
