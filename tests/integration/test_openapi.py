"""GET /openapi.json is a valid OpenAPI 3.1 document of every route; GET /docs shows it without the network."""

from __future__ import annotations

import re

import pytest
from aiohttp import web
from openapi_spec_validator import validate

from conveyor.http.app import create_app
from conveyor.http.openapi import UndeclaredRouteError, openapi_document
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.integration.conftest import ApiClient


async def _spec(api: ApiClient) -> JSONObject:
    response = await api.get("/openapi.json")
    assert response.status == 200
    spec: JSONObject = await response.json()
    return spec


async def test_the_document_is_valid_openapi_3_1(api: ApiClient) -> None:
    spec = await _spec(api)
    assert spec["openapi"] == "3.1.0"
    validate(spec)


async def test_every_route_is_in_the_document_with_its_parameters_and_errors(api: ApiClient) -> None:
    spec = await _spec(api)
    assert api.app is not None
    routes = [
        (r.resource.canonical, r.method.lower()) for r in api.app.router.routes() if r.method != "HEAD" and r.resource
    ]
    assert len(routes) > 40
    for path, method in routes:
        op = spec["paths"][path][method]
        in_path = {p["name"] for p in op["parameters"] if p["in"] == "path"}
        assert in_path == set(re.findall(r"{(\w+)}", path)), (method, path)
        errors = [s for s in op["responses"] if s.startswith(("4", "5"))]
        if path not in ("/health/live", "/health", "/openapi.json", "/docs", "/node-types", "/", "/state-machine"):
            assert errors, f"{method} {path} lists no error answer"
        for status in errors:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            # A probe's 503 says why.
            expected = "Readiness" if path.startswith("/health") and status == "503" else "ErrorAnswer"
            assert schema == {"$ref": f"#/components/schemas/{expected}"}


async def test_answers_and_bodies_come_from_the_models(api: ApiClient) -> None:
    spec = await _spec(api)
    schemas = spec["components"]["schemas"]
    execution = spec["paths"]["/executions/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
    assert execution["schema"] == {"$ref": "#/components/schemas/ExecutionAnswer"}
    assert set(schemas["ExecutionAnswer"]["required"]) >= {"id", "state", "workflow_id", "created_at"}
    assert "paused" in schemas["ExecutionAnswer"]["properties"]["state"]["enum"]
    assert set(schemas["HistoryAnswer"]["properties"]) >= {"from", "to", "event", "at"}
    body = spec["paths"]["/workflows/{id}/executions"]["post"]["requestBody"]["content"]["application/json"]
    assert schemas[body["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"]["wait"]["anyOf"][0]["maximum"] == 300
    limit = next(p for p in spec["paths"]["/emails"]["get"]["parameters"] if p["name"] == "limit")
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}
    events = spec["paths"]["/executions/{id}/events"]["get"]["responses"]["200"]["content"]
    assert list(events) == ["text/event-stream"]
    assert list(spec["paths"]["/events/stream"]["get"]["responses"]["200"]["content"]) == ["text/event-stream"]


async def test_a_route_without_a_declaration_cannot_hide(db: Pool) -> None:
    app = create_app(db)

    async def undeclared(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/undeclared", undeclared)
    with pytest.raises(UndeclaredRouteError, match="GET /undeclared"):
        openapi_document(app)


async def test_docs_page_lists_every_operation_and_loads_nothing_from_outside(api: ApiClient) -> None:
    spec = await _spec(api)
    response = await api.get("/docs")
    assert response.status == 200
    assert response.content_type == "text/html"
    assert "script-src" not in response.headers["Content-Security-Policy"]
    html = await response.text()
    for path, methods in spec["paths"].items():
        for op in methods.values():
            assert f'id="{op["operationId"]}"' in html, path
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "the page must not load anything from the network"
    assert "<script" not in html
