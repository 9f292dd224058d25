"""The definition format's reference, from the node kinds' pydantic models."""

from __future__ import annotations

import json
from typing import Any

from conveyor.nodes.kinds import DEFINITION_MODEL, KINDS
from docsgen.schema_text import type_text

_INTRO = """# Definition format

A workflow definition is JSON: `name`, `start` and `nodes`, each node with `id`, `type` and its kind's
fields. This page is generated from the pydantic models that parse definitions (`conveyor/nodes/`), so it
shows what the API accepts; `GET /node-types` answers the same schemas at run time. How the fields behave
(templates, limits, retries) is in [Workflows](../guide/workflows.md).
"""


def definitions_page() -> str:
    """The workflow's own fields, then each node kind's fields and JSON Schema."""
    lines = [_INTRO, "\n## The workflow\n"]
    lines += _fields(DEFINITION_MODEL.model_json_schema())
    for kind in KINDS:
        schema = kind.model.model_json_schema()
        lines += [f"\n## `{kind.type}`\n", " ".join((kind.model.__doc__ or "").split()), ""]
        lines += _fields(schema)
        lines += ['??? note "JSON Schema"', "    ```json"]
        lines += ["    " + line for line in json.dumps(schema, indent=2).splitlines()]
        lines += ["    ```", ""]
    return "\n".join(lines) + "\n"


def _fields(schema: dict[str, Any]) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    lines = ["| field | type | required | default |", "| --- | --- | --- | --- |"]
    for name, prop in properties.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        lines.append(f"| `{name}` | {type_text(prop)} | {'yes' if name in required else 'no'} | {default} |")
    return [*lines, ""]
