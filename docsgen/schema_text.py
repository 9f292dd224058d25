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
