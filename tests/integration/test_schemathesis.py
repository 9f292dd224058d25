"""Every operation of /openapi.json, fuzzed by schemathesis against the app on the test database: no 5xx, and
every answer conforms to the document (status code, content type, body schema).

CONVEYOR_SCHEMATHESIS_EXAMPLES sets the examples per operation (default 15; README: 200 and more in a long run).
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Callable
from typing import Any

import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from conveyor.http.app import create_app
from conveyor.http.docs import document
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool

_EXAMPLES = int(os.environ.get("CONVEYOR_SCHEMATHESIS_EXAMPLES", "15"))
_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# A feed of every transition never ends by design: a generated request would wait forever for its answer.
_ENDLESS = {("GET", "/events/stream")}


def _fuzz(spec: JSONObject, base_url: str, examples: int) -> list[str]:
    """Run every operation's examples; the failures, one text per operation that had any."""
    failures: list[str] = []
    for result in schemathesis.openapi.from_dict(spec).get_all_operations():
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
