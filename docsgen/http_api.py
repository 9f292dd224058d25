"""The HTTP API reference, from the OpenAPI document the app generates from its routes' declarations."""

from __future__ import annotations

import json
from typing import Any, cast

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.http.openapi import openapi_document
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from docsgen.schema_text import example_value, type_text

_INTRO = """# HTTP API reference

Generated from `GET /openapi.json`, which the app builds from each route's one declaration; a running
server also shows it at `/docs`. The conventions (errors, lists, tokens, same origin, hostile input) are in
[HTTP API conventions](http.md). In the examples, `$CONVEYOR_URL` is `http://127.0.0.1:8080` by default;
with `CONVEYOR_API_TOKEN` set, add `-H "Authorization: Bearer $CONVEYOR_API_TOKEN"`.
"""


def openapi() -> JSONObject:
    """The OpenAPI document, built without a database (no route runs)."""
    return openapi_document(create_app(cast(Pool, None), Settings()))


def http_api_page() -> str:
    """Every operation, grouped by tag: what it does, its parameters, body, answers and a curl line."""
    document = openapi()
    by_tag: dict[str, list[tuple[str, str, JSONObject]]] = {}
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            by_tag.setdefault(op["tags"][0], []).append((path, method, op))
    lines = [_INTRO]
    for tag in sorted(by_tag):
        lines.append(f"\n## {tag}\n")
        for path, method, op in by_tag[tag]:
            lines += _operation(path, method, op, document["components"]["schemas"])
    return "\n".join(lines) + "\n"


def _operation(path: str, method: str, op: JSONObject, components: JSONObject) -> list[str]:
    lines = [f"\n### `{method.upper()} {path}`\n", op.get("summary", ""), ""]
    if op.get("description"):
        lines += [op["description"], ""]
    parameters = op.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required |", "| --- | --- | --- | --- |"]
        lines += [
            f"| `{p['name']}` | {p['in']} | {type_text(p.get('schema', {}))} | {'yes' if p['required'] else 'no'} |"
            for p in parameters
        ]
        lines.append("")
    body = op.get("requestBody")
    if body:
        schema = body["content"]["application/json"]["schema"]
        lines += [f"Body: {type_text(schema)}{' (required)' if body.get('required') else ''}.", ""]
    answers = ", ".join(f"`{status}`" for status in op["responses"])
    example = None
    if body:
        example = example_value(body["content"]["application/json"]["schema"], components)
    lines += [f"Answers: {answers}.", "", "```sh", _curl(path, method, example), "```"]
    return lines


def _curl(path: str, method: str, example: Any) -> str:
    verb = "" if method in ("get", "post") and (method == "get" or example is not None) else f" -X {method.upper()}"
    body = f" -H 'Content-Type: application/json' \\\n     -d '{json.dumps(example)}'" if example is not None else ""
    return f'curl -s{verb} "$CONVEYOR_URL{path}"{body}'
