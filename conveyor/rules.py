"""JSON Logic rules: checked when a definition is saved, compiled once, evaluated many times.

A rule is bounded three ways: its shape before it is compiled (depth and size), the operators it
may use (none that builds data out of nothing, such as the tensor family's `zeros` and `full`), and
the operations one evaluation may charge (datalogic's budget, which prices loops by their input).
"""

from __future__ import annotations

import math

import datalogic_py

from conveyor.jsonvalue import JSONObject, JSONValue, pointer_segment

MAX_DEPTH = 64
MAX_LOOP_NESTING = 2  # a loop inside a loop is the most a condition needs; a third multiplies the cost again
MAX_NODES = 10_000
# One evaluation holds the GIL throughout (datalogic is native code): 100,000 operations cost at most ~10 ms.
MAX_OPERATIONS = 100_000
_LOOPS = frozenset({"map", "filter", "reduce", "all", "some", "none", "sort", "group_by", "distinct"})
_INT64 = range(-(2**63), 2**63)
_FAMILIES = ("Core", "DateTime", "ExtString", "ExtArray", "ExtObject", "ExtControl", "ErrorHandling", "ExtMath")

_ENGINE = datalogic_py.Engine(families=_FAMILIES, config={"ops_budget": MAX_OPERATIONS})

Rule = datalogic_py.Rule
RuleError = datalogic_py.DataLogicError


def _shape_error(rule: JSONValue) -> tuple[str, str] | None:
    """The pointer and message of the first place a rule is too deep, too big or not a JSON number."""
    stack: list[tuple[str, JSONValue, int, int]] = [("", rule, 0, 0)]
    nodes = 0
    while stack:
        pointer, value, depth, loops = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            return pointer, f"the rule has more than {MAX_NODES} parts"
        if depth > MAX_DEPTH:
            return pointer, f"the rule is nested more than {MAX_DEPTH} deep"
        if isinstance(value, float) and not math.isfinite(value):
            return pointer, f"{value} is not a JSON number"
        if isinstance(value, int) and not isinstance(value, bool) and not _INT64.start <= value < _INT64.stop:
            return pointer, "an integer in a rule must fit in 64 bits"
        if isinstance(value, dict):
            inner = loops + sum(1 for k in value if k in _LOOPS)
            if inner > MAX_LOOP_NESTING:
                return pointer, f"the rule nests more than {MAX_LOOP_NESTING} loops (map, filter, reduce, …)"
            stack.extend((f"{pointer}/{pointer_segment(k)}", v, depth + 1, inner) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{pointer}/{i}", v, depth + 1, loops) for i, v in enumerate(value))
    return None


def rule_errors(rule: JSONValue, pointer: str) -> list[JSONObject]:
    """Every problem found in a rule, each with the JSON pointer of its place."""
    shape = _shape_error(rule)
    if shape is not None:
        return [{"pointer": f"{pointer}{shape[0]}", "message": f"invalid JSON Logic rule: {shape[1]}", "value": None}]
    try:
        _ENGINE.compile_checked(rule)
    except (datalogic_py.CompileError, datalogic_py.ParseError) as exc:
        diagnostics = getattr(exc, "diagnostics", []) or [{"pointer": "", "message": str(exc)}]
        return [
            {
                "pointer": f"{pointer}{d.get('pointer') or ''}",
                "message": f"invalid JSON Logic rule: {d['message']}",
                "value": rule,
            }
            for d in diagnostics
        ]
    return []


def compile_rule(rule: JSONValue) -> Rule:
    """Compile a rule once, for evaluation many times."""
    return _ENGINE.compile(rule)


def is_truthy(value: JSONValue) -> bool:
    """Apply JSON Logic's truthiness to a rule's result."""
    return bool(_ENGINE.truthy(value))
