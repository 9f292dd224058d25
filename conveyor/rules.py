"""JSON Logic rules: checked when a definition is saved, compiled once, evaluated many times."""

from __future__ import annotations

import datalogic_py

from conveyor.jsonvalue import JSONObject, JSONValue

_ENGINE = datalogic_py.Engine()

Rule = datalogic_py.Rule
RuleError = datalogic_py.DataLogicError


def rule_errors(rule: JSONValue, pointer: str) -> list[JSONObject]:
    """Every problem the compiler finds in a rule, each with the JSON pointer of its place."""
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
