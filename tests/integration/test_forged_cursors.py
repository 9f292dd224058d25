"""A cursor is decoded from what the client sent: a forged one is a 422 naming it, never a query that fails."""

from __future__ import annotations

import base64
import json

from tests.integration.conftest import ApiClient


def _forged(*key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


async def test_a_cursor_holding_text_postgresql_cannot_store_is_refused_by_every_list(api: ApiClient) -> None:
    document = await (await api.get("/openapi.json")).json()
    lists = [
        path
        for path, operations in document["paths"].items()
        if "{" not in path and any(p["name"] == "cursor" for p in operations.get("get", {}).get("parameters", []))
    ]
    assert "/workflows" in lists
    assert "/executions" in lists
    for path in lists:
        for key in (("a\x00b",), ("a\x00b", "00000000-0000-0000-0000-000000000000"), ("\ud800",), ("\ud800", "x")):
            response = await api.get(path, params={"cursor": _forged(*key)})
            body = await response.json()
            assert response.status == 422, (path, key, response.status, body)
            assert body["error"]["details"]["field"] == "cursor"
