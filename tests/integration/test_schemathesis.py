"""Every operation of /openapi.json, fuzzed by schemathesis against the app on the test database: no 5xx, and
every answer conforms to the document (status code, content type, body schema).

CONVEYOR_SCHEMATHESIS_EXAMPLES sets the examples per operation (default 15; README: 200 and more in a long run).

Schemathesis generates what the document allows; hooks make a share of the cases hostile as well, with the shapes
of tests/corpora/hostile_requests.json that its HTTP client can send: query values (a NUL, times UTC cannot hold,
non-ASCII digits, 300 digits, forged cursors), header lines (bytes that are not UTF-8, which its client sends as
Latin-1), and bodies (nested 300 and 500 deep, times UTC cannot hold, NULs). Bytes that are not UTF-8 in a query,
bodies with other media types and deeper nesting (its client would overflow its own stack) are left to the corpus
test, tests/integration/test_hostile_requests.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import traceback
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.hooks import HookContext

from conveyor.http.app import create_app
from conveyor.http.docs import document
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.store import Pool
from tests.corpus import CORPORA

_EXAMPLES = int(os.environ.get("CONVEYOR_SCHEMATHESIS_EXAMPLES", "15"))
_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# A feed of every transition never ends by design: a generated request would wait forever for its answer.
_ENDLESS = {("GET", "/events/stream")}
_HOSTILE = json.loads((CORPORA / "hostile_requests.json").read_text(encoding="utf-8"))
# Deeper, and the client's own encoder runs out of stack under hypothesis's frames.
_MAX_FUZZED_DEPTH = 500


def _sendable_query_value(entry: dict[str, Any]) -> str | None:
    """The text a query entry stands for, or None when it is bytes that are not UTF-8."""
    if "cursor" in entry:
        return base64.urlsafe_b64encode(json.dumps(entry["cursor"]).encode()).decode().rstrip("=")
    try:
        return unquote(entry["value"], errors="strict")
    except UnicodeDecodeError:
        return None


def _sendable_header(entry: dict[str, Any]) -> tuple[str, str] | None:
    """A header line as the client sends it (Latin-1: an escaped raw byte becomes that byte), or None."""
    name, _, value = entry["line"].partition(": ")
    value = "".join(chr(ord(c) - 0xDC00) if 0xDC80 <= ord(c) <= 0xDCFF else c for c in value)
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return None
    return name, value


_QUERY_VALUES = [v for v in map(_sendable_query_value, _HOSTILE["query"]) if v is not None]
_HEADERS = [h for h in map(_sendable_header, _HOSTILE["headers"]) if h is not None]
_BODY_FIELDS = [e["json"] for e in _HOSTILE["bodies"] if isinstance(e.get("json"), dict) and "content_type" not in e]


def _nested(depth: int) -> JSONValue:
    value: JSONValue = []
    for _ in range(depth - 1):
        value = [value]
    return value


def flatmap_query(context: HookContext, query: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    """The generated query, or one of its declared parameters set to a hostile value."""
    assert context.operation is not None
    names = [p["name"] for p in context.operation.definition.raw.get("parameters", []) if p["in"] == "query"]
    if not names:
        return st.just(query)
    hostile = st.tuples(st.sampled_from(names), st.sampled_from(_QUERY_VALUES))
    return st.one_of(st.just(query), hostile.map(lambda nv: {**(query or {}), nv[0]: nv[1]}))


def flatmap_headers(context: HookContext, headers: dict[str, Any] | None) -> st.SearchStrategy[dict[str, Any] | None]:
    """The generated headers, or those with one hostile header line added."""
    hostile = st.sampled_from(_HEADERS).map(lambda line: {**(headers or {}), line[0]: line[1]})
    return st.one_of(st.just(headers), hostile)


def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    """The generated body, or, when it is an object, with hostile fields added or a field nested deep."""
    if not isinstance(body, dict):
        return st.just(body)
    fields = st.sampled_from(_BODY_FIELDS).map(lambda extra: {**body, **extra})
    deep = st.sampled_from([300, _MAX_FUZZED_DEPTH]).map(lambda depth: {**body, "hostile": _nested(depth)})
    return st.one_of(st.just(body), fields, deep)


def _fuzz(spec: JSONObject, base_url: str, examples: int) -> list[str]:
    """Run every operation's examples; the failures, one text per operation that had any."""
    failures: list[str] = []
    schema = schemathesis.openapi.from_dict(spec)
    for hook in (flatmap_query, flatmap_headers, flatmap_body):
        schema.hook(hook)
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid operation raises here, failing the test
        if (operation.method.upper(), operation.path) in _ENDLESS:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Case[Any]) -> None:
            case.call_and_validate(base_url=base_url, checks=_CHECKS, timeout=30)

        failure = _failure(check)
        if failure:
            failures.append(f"{operation.method.upper()} {operation.path}:\n{failure}")
    return failures


def _failure(run: Callable[[], None]) -> str | None:
    try:
        run()
    except Exception:
        return traceback.format_exc(limit=-3)
    return None


async def test_no_operation_answers_5xx_or_breaks_its_own_schema(db: Pool) -> None:
    app = create_app(db)
    async with TestServer(app, host="127.0.0.1") as server:
        base_url = str(server.make_url("")).rstrip("/")
        failures = await asyncio.to_thread(_fuzz, document(app), base_url, _EXAMPLES)
    assert not failures, "\n\n".join(failures)
