"""GET /node-types: every declared kind with the JSON Schema of its model, and the actions."""

from __future__ import annotations

from conveyor.nodes.kinds import KINDS
from tests.integration.conftest import ApiClient


async def test_every_kind_is_listed_with_its_schema_and_every_action_too(api: ApiClient) -> None:
    body = await (await api.get("/node-types")).json()
    by_type = {k["type"]: k for k in body["items"]}
    assert set(by_type) == {kind.type for kind in KINDS}
    assert by_type["delay"]["schema"]["properties"]["type"]["const"] == "delay"
    assert "url" in by_type["webhook"]["schema"]["required"]
    actions = {a["name"]: a for a in body["actions"]}
    assert actions["send_email"]["template_param"] == "template"
    assert actions["send_email"]["credentials"] == []  # an email is stored: no secret is written in one
    assert "noop" in actions
