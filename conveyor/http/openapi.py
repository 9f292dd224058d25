"""The OpenAPI 3.1 document of the app, generated from the routes' declarations and their pydantic models."""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib.metadata import version
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from conveyor.http.operation import JSON, Operation, declared_operation
from conveyor.http.origin import same_origin_guarded
from conveyor.http.resources import ErrorAnswer
from conveyor.jsonvalue import JSONObject
from conveyor.roles import Role

_REF = "#/components/schemas/{model}"
_PATH_PARAMETER = re.compile(r"{(\w+)}")
_ERRORS = {
    400: "The body is not JSON, or not JSON that can be stored; or a header is not UTF-8 text",
    401: "No bearer token, or not the right one",
    403: "The credential's role is below the route's (x-conveyor-role), or the Host, or the Origin of a change, is"
    " not this server's; details.field names the header",
    404: "Nothing has this id or name",
    405: "This resource does not answer this method; the Allow header lists those it does",
    409: "The resource's state does not allow this",
    413: "The body is larger than the limit",
    415: "The body is not sent as application/json",
    422: "A parameter or a body field is invalid; details.field names it",
    429: "Too many deliveries, or too many requests waiting; Retry-After says when to come back",
    503: "The database is unavailable; Retry-After says when to try again",
}


def operation_id(path: str, method: str) -> str:
    """A route's operationId: its method and path's parts, e.g. `post_executions_id_pause`."""
    return f"{method}_{'_'.join(p.strip('{}') for p in path.split('/') if p) or 'root'}"


def allowed_operations(app: web.Application, role: Role) -> list[str]:
    """The operationIds of every route a caller of `role` may call (public ones left out), in path order."""
    found = []
    for path, method, route in _routes(app):
        op = declared_operation(route.handler)
        if op is not None and not op.public and op.role <= role:
            found.append(operation_id(path, method))
    return sorted(found)


def _routes(app: web.Application) -> Iterator[tuple[str, str, web.AbstractRoute]]:
    """(path template, lower-case method, route) of every route but the HEADs aiohttp adds to GETs."""
    for route in app.router.routes():
        if route.method in ("HEAD", "*") or route.resource is None:
            continue
        yield route.resource.canonical, route.method.lower(), route


def _adapter(schema: Any) -> TypeAdapter[Any]:
    return schema if isinstance(schema, TypeAdapter) else TypeAdapter(schema)


class _Schemas:
    """Every schema the document refers to, generated together so shared models are one component."""

    def __init__(self, operations: list[Operation]) -> None:
        inputs: list[tuple[Any, Any, TypeAdapter[Any]]] = [("error", "serialization", TypeAdapter(ErrorAnswer))]
        for op in operations:
            if op.body is not None:
                inputs.append((id(op.body), "validation", _adapter(op.body)))
            if op.query is not None:
                inputs.append((id(op.query), "validation", TypeAdapter(op.query)))
            inputs += [(id(s), "serialization", _adapter(s)) for s in op.answers.values() if s is not None]
        found, defs = TypeAdapter.json_schemas(inputs, ref_template=_REF)
        self.components: JSONObject = defs.get("$defs", {})
        self._found = found

    def body(self, schema: Any) -> JSONObject:
        """The schema of a request body."""
        return dict(self._found[(id(schema), "validation")])

    def answer(self, schema: Any) -> JSONObject:
        """The schema of an answer."""
        key = "error" if schema is ErrorAnswer else id(schema)
        return dict(self._found[(key, "serialization")])

    def query(self, model: type[BaseModel]) -> list[JSONObject]:
        """One parameter per field of a query model."""
        ref = self._found[(id(model), "validation")]["$ref"]
        schema = self.components[ref.rsplit("/", 1)[-1]]
        required = set(schema.get("required", []))
        return [
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _present(prop),
                **({"description": prop["description"]} if "description" in prop else {}),
            }
            for name, prop in schema.get("properties", {}).items()
        ]


def _present(prop: JSONObject) -> JSONObject:
    """A query parameter's schema: a parameter is absent or a string, never null."""
    schema = {k: v for k, v in prop.items() if k not in ("description", "title") and not (k == "default" and v is None)}
    branches = [b for b in schema.pop("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    return schema


def _summary(handler: Any) -> tuple[str, str]:
    doc = (handler.__doc__ or "").strip()
    first, _, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _operation(path: str, method: str, route: web.AbstractRoute, op: Operation, schemas: _Schemas) -> JSONObject:
    summary, description = _summary(route.handler)
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": TypeAdapter(op.path.get(name, str)).json_schema()}
        for name in _PATH_PARAMETER.findall(path)
    ]
    if op.query is not None:
        parameters += schemas.query(op.query)
    responses: JSONObject = {}
    for status, schema in op.answers.items():
        answer: JSONObject = {"description": summary or "OK"}
        if op.media == JSON and schema is not None:
            answer["content"] = {JSON: {"schema": schemas.answer(schema)}}
        elif op.media != JSON:
            answer["content"] = {op.media: {"schema": {"type": "string"}}}
        responses[str(status)] = answer
    # Any route: a header that is not UTF-8 (400), a query parameter that cannot be stored (422), another host (403).
    errors = set(op.errors) | {400, 422} | ({403} if same_origin_guarded(path) or op.role > Role.VIEWER else set())
    errors |= ({401} if not op.public else set()) | ({503} if op.database else set())
    if op.body is not None:
        errors |= {413, 415}
    error_schema = schemas.answer(ErrorAnswer)
    for status in sorted(errors):
        responses[str(status)] = {"description": _ERRORS[status], "content": {JSON: {"schema": error_schema}}}
    found: JSONObject = {
        "operationId": operation_id(path, method),
        "tags": [path.split("/")[1] or "root"],
        "summary": summary,
        "parameters": parameters,
        "responses": responses,
    }
    if description:
        found["description"] = description
    if op.body is not None:
        found["requestBody"] = {"required": op.body_required, "content": {JSON: {"schema": schemas.body(op.body)}}}
    if op.public:
        found["security"] = []
    else:
        found["x-conveyor-role"] = op.role.label
    return found


class UndeclaredRouteError(Exception):
    """A route has no declaration, so the document could not describe it."""


def openapi_document(app: web.Application) -> JSONObject:
    """The OpenAPI 3.1 document of every route of `app`."""
    declared: list[tuple[str, str, web.AbstractRoute, Operation]] = []
    for path, method, route in _routes(app):
        op = declared_operation(route.handler)
        if op is None:
            raise UndeclaredRouteError(f"{method.upper()} {path} has no @operation declaration")
        declared.append((path, method, route, op))
    schemas = _Schemas([op for *_, op in declared])
    paths: dict[str, JSONObject] = {}
    for path, method, route, op in declared:
        paths.setdefault(path, {})[method] = _operation(path, method, route, op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "conveyor",
            "version": version("conveyor"),
            "description": "A durable workflow runtime on PostgreSQL. Every error answer is "
            '{"error": {"code", "message", "details"}}; lists are {"items", "next_cursor"}.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
