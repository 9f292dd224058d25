"""A JSON Schema's type, written short for a reference table."""

from __future__ import annotations

import json
from typing import Any


def type_text(schema: Any) -> str:
    """`Model`, `"a" | "b"`, `string or null`: what a value of this schema is, in a table cell."""
    if not isinstance(schema, dict):
        return "`any`"
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    if "enum" in schema:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(type_text(s) for s in schema[key])
    if schema.get("type") == "array":
        return f"list of {type_text(schema.get('items', {}))}"
    return f"`{schema.get('type', 'any')}`"


_UUID = "3f2c1a9e-5b7d-4e61-9a0b-2d8c4f6e1a73"


def example_value(schema: Any, components: dict[str, Any], depth: int = 0) -> Any:
    """A small value that meets the schema: its own example or default, else the required fields filled in."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "$ref" in schema:
        return example_value(components.get(schema["$ref"].rsplit("/", 1)[-1], {}), components, depth + 1)
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key, []) if b.get("type") != "null"]
        if branches:
            return example_value(branches[0], components, depth + 1)
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {name: example_value(schema["properties"][name], components, depth + 1) for name in required}
    if kind == "array":
        wanted = schema.get("minItems", 0)
        return [example_value(schema.get("items", {}), components, depth + 1) for _ in range(min(wanted, 1))]
    return _scalar(schema)


def _scalar(schema: dict[str, Any]) -> Any:
    kind, found = schema.get("type"), schema.get("format")
    if kind == "string":
        return {"date-time": "2026-01-01T00:00:00Z", "uuid": _UUID, "duration": "PT5S"}.get(found or "", "text")
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return max(1.0, float(schema.get("minimum", 1.0)))
    if kind == "boolean":
        return False
    return None
