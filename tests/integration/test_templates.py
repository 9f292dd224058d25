"""Email templates over HTTP, checked at save; definitions naming a missing template are refused at save."""

from __future__ import annotations

import uuid

from tests.integration.conftest import ApiClient, flow


def unique_name() -> str:
    return f"t_{uuid.uuid4().hex[:10]}"


def sends(template: str, name: str = "mailer") -> dict[str, object]:
    return flow(
        {"id": "mail", "type": "action", "action": "send_email", "params": {"to": "a@b.c", "template": template}},
        name=name,
    )


async def test_put_then_get_a_template(api: ApiClient) -> None:
    name = unique_name()
    body = {"subject": "Hi {{ input.name }}", "text_body": "Hello", "html_body": "<p>Hello</p>"}
    created = await api.put(f"/templates/{name}", json=body)
    assert created.status == 201
    replaced = await api.put(f"/templates/{name}", json={**body, "text_body": "Hello again"})
    assert replaced.status == 200
    got = await (await api.get(f"/templates/{name}")).json()
    assert (got["name"], got["text_body"]) == (name, "Hello again")
    names = [t["name"] for t in (await (await api.get("/templates?limit=1000")).json())["items"]]
    assert name in names
    assert "generic_welcome" in names


async def test_a_template_that_does_not_compile_is_422_naming_the_field_and_line(api: ApiClient) -> None:
    response = await api.put(f"/templates/{unique_name()}", json={"subject": "ok", "text_body": "a\nb\n{{ x }\n"})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"]["field"] == "/text_body"
    assert error["details"]["line"] == 3
    assert "line 3" in error["message"]


async def test_hostile_template_requests_are_4xx(api: ApiClient) -> None:
    name = unique_name()
    for body in ({}, {"subject": 1, "text_body": "x"}, {"subject": "", "text_body": "x"}, [1], "x"):
        response = await api.put(f"/templates/{name}", json=body)
        assert response.status == 422, body
    response = await api.put(
        f"/templates/{name}",
        data='{"subject": "a\\u0000", "text_body": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 400
    for bad in ("a b", "x" * 101):
        assert (await api.get(f"/templates/{bad}")).status == 422, bad
    assert (await api.get("/templates/a%00b")).status == 404  # text that cannot be stored names nothing
    assert (await api.get(f"/templates/{unique_name()}")).status == 404


async def test_a_definition_naming_a_missing_template_is_422_at_creation_and_put(api: ApiClient) -> None:
    response = await api.post("/workflows", json=sends("no_such_template"))
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"]["field"] == "/nodes/0/params/template"
    assert "no_such_template" in error["message"]
    assert (await api.post("/workflows", json=sends("generic_welcome"))).status == 201
    assert (await api.put("/workflows/mailer", json=sends("no_such_template"))).status == 422


async def test_a_templated_template_name_is_left_to_run_time(api: ApiClient) -> None:
    assert (await api.post("/workflows", json=sends("{{ input.template }}"))).status == 201
