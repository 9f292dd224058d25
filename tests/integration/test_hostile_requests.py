"""Hostile shapes of every part of a request (tests/corpora/hostile_requests.json), sent over a raw socket to every
operation /openapi.json lists, with its path naming real resources: never a 5xx, and a refusal is JSON naming its
field. A raw socket, because a client library would not send a NUL, a byte that is not UTF-8, or a wrong length."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.corpus import corpus
from tests.integration.conftest import ApiClient
from tests.raw_http import RawAnswer, send_raw

_CORPUS = "hostile_requests.json"
# A request to send: a label for the failure, the method, the target, the header lines and the body.
_Request = tuple[str, str, str, list[bytes], bytes | None]
_METHODS = ("get", "post", "put", "patch", "delete")
# Each refusal of what a request holds names where: the body, a parameter or a header.
_NAMES_A_FIELD = (400, 413, 415, 422)
_TOKEN = "hostile-requests-token"


@dataclass(frozen=True, slots=True)
class _Operation:
    method: str
    template: str
    path_parameters: tuple[str, ...]
    query_parameters: tuple[str, ...]
    takes_body: bool


async def _resources(api: ApiClient) -> dict[str, str]:
    """Create one resource of each kind a path names; the value each path parameter takes, by its route."""
    workflow = {"name": "hostile", "start": "a", "nodes": [{"id": "a", "type": "delay", "duration": "1h"}]}
    assert (await api.post("/workflows", json=workflow)).status == 201
    started = await api.post("/workflows/hostile/executions", json={"input": {}})
    execution = await started.json()
    attached = await api.post("/workflows/hostile/triggers", json={"type": "webhook", "path": "hostile"})
    trigger = await attached.json()
    assert (await api.put("/templates/hostile", json={"subject": "s", "text_body": "t"})).status in (200, 201)
    return {
        "/workflows/{id}": "hostile",
        "/workflows/{id}/versions/{version}": "1",
        "/executions/{id}": execution["id"],
        "/executions/bulk/{event}": "cancel",
        "/triggers/{id}": trigger["id"],
        "/hooks/{path}": "hostile",
        "/templates/{name}": "hostile",
        "/secrets/{secret}": "HOSTILE",
        "/dashboard/{name}": "app.js",
        "/actions/{key}": "send_email",
        "/keys/{id}": "00000000-0000-4000-8000-000000000000",  # no key: this API has no CONVEYOR_KEY_SECRET
    }


def _value_for(template: str, name: str, resources: dict[str, str]) -> str:
    """The resource a path parameter names: the one of the longest route prefix that ends at it."""
    marker = "{" + name + "}"
    prefix = template[: template.index(marker) + len(marker)]
    return resources[prefix]


async def _operations(api: ApiClient) -> list[_Operation]:
    document = await (await api.get("/openapi.json")).json()
    found = []
    for template, operations in document["paths"].items():
        for method, declared in operations.items():
            if method not in _METHODS:
                continue
            parameters = declared.get("parameters", [])
            found.append(
                _Operation(
                    method=method.upper(),
                    template=template,
                    path_parameters=tuple(p["name"] for p in parameters if p["in"] == "path"),
                    query_parameters=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    takes_body="requestBody" in declared,
                )
            )
    assert len(found) > 40, "the document lists every operation"
    return found


def _path(operation: _Operation, resources: dict[str, str], hostile: tuple[str, str] | None = None) -> str:
    path = operation.template
    for name in operation.path_parameters:
        value = hostile[1] if hostile and hostile[0] == name else _value_for(operation.template, name, resources)
        path = path.replace("{" + name + "}", value)
    return path


def _raw(text: str) -> bytes:
    """Text as the corpus writes it: UTF-8, the escaped lone surrogates standing for raw bytes."""
    return text.encode("utf-8", "surrogateescape")


def _problem(what: str, answer: RawAnswer) -> str | None:
    """What is wrong with an answer to a hostile request, or None."""
    if answer.status >= 500:
        return f"{what}: {answer.status} {answer.error}"
    if answer.status in _NAMES_A_FIELD and not (answer.error and answer.error["details"].get("field")):
        return f"{what}: {answer.status} names no field: {answer.error}"
    return None


async def _run(api: ApiClient, requests: Sequence[_Request]) -> None:
    """Send each (label, method, target, headers, body); fail listing every answer that is a 5xx or names nothing."""
    assert api.server.port is not None
    problems = []
    for label, method, target, headers, body in requests:
        problem = _problem(label, await send_raw(api.server.port, method, target, headers, body))
        if problem:
            problems.append(problem)
    assert not problems, "\n".join(problems)


def _cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize("entry", corpus(_CORPUS, "query", "note"))
async def test_a_hostile_query_parameter_is_never_a_5xx(api: ApiClient, entry: dict[str, Any]) -> None:
    resources = await _resources(api)
    requests: list[_Request] = []
    for operation in await _operations(api):
        if "cursor" in entry:
            names: tuple[str, ...] = ("cursor",) if "cursor" in operation.query_parameters else ()
            value = _cursor(entry["cursor"])
        else:
            names, value = operation.query_parameters or ("x",), entry["value"]
        for name in names:
            target = f"{_path(operation, resources)}?{name}={value}"
            requests.append((f"{operation.method} {operation.template} ?{name}", operation.method, target, [], None))
    await _run(api, requests)


@pytest.mark.parametrize("entry", corpus(_CORPUS, "paths", "note"))
async def test_a_hostile_path_parameter_is_never_a_5xx(api: ApiClient, entry: dict[str, Any]) -> None:
    resources = await _resources(api)
    requests: list[_Request] = [
        (
            f"{operation.method} {operation.template} {{{name}}}",
            operation.method,
            _path(operation, resources, (name, entry["value"])),
            [],
            None,
        )
        for operation in await _operations(api)
        for name in operation.path_parameters
    ]
    await _run(api, requests)


@pytest.mark.parametrize("token", [None, _TOKEN], ids=["open", "guarded"])
@pytest.mark.parametrize("entry", corpus(_CORPUS, "headers", "note"))
async def test_a_hostile_header_is_never_a_5xx(
    api: ApiClient,
    db: Pool,
    aiohttp_client: Callable[..., Awaitable[ApiClient]],
    entry: dict[str, Any],
    token: str | None,
) -> None:
    resources = await _resources(api)
    # With a token set, every other header is sent with it, so that it reaches the route.
    served = await aiohttp_client(create_app(db, Settings(api_token=token))) if token else api
    line = _raw(entry["line"])
    headers = [line] if not token or line.lower().startswith(b"authorization:") else [line, _bearer(token)]
    requests: list[_Request] = [
        (f"{o.method} {o.template}", o.method, _path(o, resources), headers, None) for o in await _operations(api)
    ]
    await _run(served, requests)


def _bearer(token: str) -> bytes:
    return f"Authorization: Bearer {token}".encode()


def _body(entry: dict[str, Any]) -> bytes:
    if "text" in entry:
        return _raw(entry["text"])
    if "nest" in entry:
        nested = "[" * entry["nest"]["depth"] + "]" * entry["nest"]["depth"]
        return json.dumps(entry["nest"]["json"]).replace('"$NEST"', nested).encode()
    return json.dumps(entry["json"]).encode()


@pytest.mark.parametrize("entry", corpus(_CORPUS, "bodies", "note"))
async def test_a_hostile_body_is_never_a_5xx(api: ApiClient, entry: dict[str, Any]) -> None:
    resources = await _resources(api)
    media = entry.get("content_type", "application/json")
    headers = [f"Content-Type: {media}".encode()] if media is not None else []
    requests: list[_Request] = [
        (f"{o.method} {o.template}", o.method, _path(o, resources), headers, _body(entry))
        for o in await _operations(api)
        if o.takes_body
    ]
    await _run(api, requests)
