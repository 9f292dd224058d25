"""/openapi.json, and /docs: the same document as one browsable page rendered here (no scripts, no network)."""

from __future__ import annotations

import json
import weakref
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from conveyor.http.openapi import openapi_document
from conveyor.http.operation import operation
from conveyor.jsonvalue import JSONObject, JSONValue

routes = web.RouteTableDef()

_PAGES = jinja2.Environment(
    loader=jinja2.PackageLoader("conveyor.http", "pages"), autoescape=True, undefined=jinja2.StrictUndefined
)
# The page has no script; its one inline style block is all it runs.
_PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
_DOCUMENTS: weakref.WeakKeyDictionary[web.Application, JSONObject] = weakref.WeakKeyDictionary()


def document(app: web.Application) -> JSONObject:
    """The app's OpenAPI document, generated once: routes and models do not change while it runs."""
    if app not in _DOCUMENTS:
        _DOCUMENTS[app] = openapi_document(app)
    return _DOCUMENTS[app]


@routes.get("/openapi.json")
@operation(database=False)
async def get_openapi(request: web.Request) -> web.Response:
    """This API as an OpenAPI 3.1 document, generated from the models that validate and shape it."""
    return web.json_response(document(request.app))


@routes.get("/docs")
@operation(media="text/html", database=False)
async def get_docs(request: web.Request) -> web.Response:
    """This API as one browsable page."""
    html = _PAGES.get_template("docs.html").render(**_page(document(request.app)))
    return web.Response(text=html, content_type="text/html", headers={"Content-Security-Policy": _PAGE_POLICY})


def _type(schema: JSONValue) -> Markup:
    """A schema in a few words, with links to the components it names."""
    if not isinstance(schema, dict):
        return Markup("any")
    if "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        return Markup('<a href="#schema-{0}">{0}</a>').format(name)
    for union in ("anyOf", "oneOf"):
        if union in schema:
            return Markup(" | ").join(_type(s) for s in schema[union])
    if "enum" in schema:
        return Markup(" | ").join(Markup("<code>{}</code>").format(json.dumps(v)) for v in schema["enum"])
    if schema.get("type") == "array":
        return Markup("list[{}]").format(_type(schema.get("items")))
    if schema.get("type") == "object" and "additionalProperties" in schema:
        return Markup("map[{}]").format(_type(schema["additionalProperties"]))
    kind = schema.get("type", "any")
    return escape(f"{kind} ({schema['format']})" if "format" in schema else str(kind))


def _content_type(answer: JSONObject) -> Markup:
    content = answer.get("content", {})
    if not content:
        return Markup("no body")
    media, body = next(iter(content.items()))
    return _type(body.get("schema")) if media == "application/json" else escape(media)


def _operation(path: str, method: str, op: JSONObject) -> JSONObject:
    body = op.get("requestBody")
    return {
        "id": op["operationId"],
        "method": method,
        "path": path,
        "summary": op.get("summary", ""),
        "description": op.get("description", ""),
        "parameters": [
            {
                "name": p["name"],
                "where": p["in"],
                "required": p.get("required", False),
                "type": _type(p.get("schema")),
                "description": p.get("description", ""),
            }
            for p in op.get("parameters", [])
        ],
        "body": _type(body["content"]["application/json"]["schema"]) if body else None,
        "body_required": bool(body and body.get("required")),
        "responses": [
            {"status": status, "type": _content_type(answer), "description": answer.get("description", "")}
            for status, answer in op["responses"].items()
        ],
    }


def _schema(name: str, schema: JSONObject) -> JSONObject:
    required = set(schema.get("required", []))
    return {
        "name": name,
        "description": schema.get("description", ""),
        "fields": [
            {"name": f, "required": f in required, "type": _type(s), "description": s.get("description", "")}
            for f, s in schema.get("properties", {}).items()
        ],
        "json": json.dumps(schema, indent=2),
    }


def _page(spec: JSONObject) -> dict[str, Any]:
    tags: dict[str, list[JSONObject]] = {}
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            tags.setdefault(op["tags"][0], []).append(_operation(path, method, op))
    return {
        "info": spec["info"],
        "tags": [{"name": name, "operations": ops} for name, ops in tags.items()],
        "schemas": [_schema(name, s) for name, s in spec["components"]["schemas"].items()],
    }
