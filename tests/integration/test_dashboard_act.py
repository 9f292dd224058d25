"""Acting from the dashboard: start an execution from a form made of the workflow's input_schema (or JSON), send
an event, enable, disable and preview triggers, read the emails and text messages; behind the API token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from tests.browser import Page
from tests.dashboard import STATE, ended, shoot_both, start
from tests.integration.conftest import ApiClient, flow

_SIGNUP = {
    **flow(
        {"id": "hello", "type": "action", "action": "noop", "params": {"to": "{{ input.email }}"}},
        {"id": "text", "type": "action", "action": "send_sms", "params": {"to": "+15551234567", "body": "Hi"}},
        name="act-signup",
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "email": {"type": "string", "description": "where to write"},
            "seats": {"type": "integer", "minimum": 1},
            "plan": {"enum": ["free", "pro"]},
            "beta": {"type": "boolean"},
        },
        "required": ["email", "seats"],
    },
}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "nonsense"}, "is not a valid JSON Schema"),
        ({"type": "array"}, "must describe an object"),
        ({"properties": {"a": {"minimum": "zero"}}}, "is not a valid JSON Schema"),
    ],
)
async def test_an_input_schema_that_is_no_schema_is_refused_at_creation(
    api: ApiClient, schema: JSONObject, message: str
) -> None:
    response = await api.post("/workflows", json={**_SIGNUP, "input_schema": schema})
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"]["field"] == "/input_schema"
    assert message in error["message"]


@pytest.mark.parametrize(
    ("input_", "field"),
    [
        ({}, "/input/email"),
        ({"email": "a@b.c", "seats": 0}, "/input/seats"),
        ({"email": 5, "seats": 1}, "/input/email"),
    ],
)
async def test_a_start_whose_input_breaks_the_schema_is_422_naming_the_field(
    api: ApiClient, input_: JSONObject, field: str
) -> None:
    workflow = await (await api.post("/workflows", json=_SIGNUP)).json()
    response = await api.post(f"/workflows/{workflow['id']}/executions", json={"input": input_})
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field


async def test_an_execution_started_from_the_form_completes_and_its_text_message_is_listed(
    api: ApiClient, worker: Worker, page: Page
) -> None:
    workflow = await (await api.post("/workflows", json=_SIGNUP)).json()
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    labels = await page.evaluate("[...document.querySelectorAll('.start-form .form-row')].map(r => r.dataset.field)")
    assert labels == ["email", "seats", "beta", "plan"]  # the required first, as listed; the rest by name
    await page.evaluate("document.getElementById('input-seats').value = '0'")
    await page.evaluate("document.getElementById('input-email').value = 'ada@example.com'")
    await page.evaluate("document.getElementById('start').click()")
    refused = "document.querySelector('[data-field=seats] .field-error').textContent"
    assert "minimum" in await page.wait_for(refused, "the refusal shown by the field")
    await shoot_both(page, "workflow-start")

    await page.evaluate("document.getElementById('input-seats').value = '3'")
    await page.evaluate("document.getElementById('input-plan').value = '\"pro\"'")
    await page.evaluate("document.getElementById('start').click()")
    await page.wait_for("location.hash.startsWith('#/executions/')", "the new execution's page")
    await page.wait_for(f"{STATE} === 'completed'", "the execution completed")
    execution_id = str(await page.evaluate("location.hash.split('/').pop()"))
    started = await (await api.get(f"/executions/{execution_id}")).json()
    assert started["input"] == {"email": "ada@example.com", "seats": 3, "plan": "pro", "beta": False}

    await page.goto(str(api.make_url("/#/messages")))
    rows = "[...document.querySelectorAll('#sms tbody tr')].map(r => r.textContent)"
    texts = await page.wait_for(f"{rows}.length && {rows}", "the text message")
    assert "+15551234567" in texts[0]
    assert execution_id[:8] in texts[0]
    await shoot_both(page, "messages")


async def test_without_a_schema_the_input_is_given_as_json(api: ApiClient, worker: Worker, page: Page) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    await page.goto(str(api.make_url(f"/#/workflows/{workflow['id']}")))
    await page.evaluate("document.getElementById('start-json').value = '{\"n\": 7'")
    await page.evaluate("document.getElementById('start').click()")
    assert "not JSON" in await page.wait_for("document.getElementById('start-notice').textContent", "the error")
    await page.evaluate("document.getElementById('start-json').value = '{\"n\": 7}'")
    await page.evaluate("document.getElementById('start').click()")
    await page.wait_for(f"{STATE} === 'completed'", "the execution completed")


async def test_an_event_sent_from_the_dashboard_ends_a_wait(api: ApiClient, worker: Worker, page: Page) -> None:
    definition = flow(
        {"id": "wait", "type": "wait_for_event", "events": ["user.engaged"], "timeout": "1h", "on_event": "done"},
        {"id": "done", "type": "action", "action": "noop"},
        name="act-event",
    )
    definition["nodes"][0].pop("next")
    workflow = await (await api.post("/workflows", json=definition)).json()
    execution_id = await start(api, workflow["id"])
    await page.goto(str(api.make_url("/#/triggers")))
    await page.evaluate("document.getElementById('event-type').value = 'user.engaged'")
    await page.evaluate("document.getElementById('event-payload').value = '{\"user\": \"ada\"}'")
    await page.evaluate("document.querySelector('#send-event button').click()")
    assert "Accepted" in await page.wait_for("document.getElementById('event-notice').textContent", "the answer")
    assert await ended(api, execution_id) == "completed"


async def test_the_triggers_page_disables_enables_and_previews_a_schedule(api: ApiClient, page: Page) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    schedule = {"type": "schedule", "cron": "0 9 * * *", "timezone": "Europe/Paris"}
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=schedule)
    assert response.status == 201, await response.text()
    trigger = await response.json()
    await page.goto(str(api.make_url("/#/triggers")))
    row = f"document.querySelector('#triggers tr[data-trigger=\"{trigger['id']}\"]')"
    await page.evaluate(f"{row}.querySelector('[data-act=preview]').click()")
    await page.wait_for(f"{row}.querySelectorAll('.preview li').length === 5", "five coming fires")
    await page.evaluate(f"{row}.querySelector('[data-act=disable]').click()")
    await page.wait_for(f"{row}?.dataset.enabled === 'false'", "the trigger disabled")
    assert (await (await api.get(f"/triggers/{trigger['id']}")).json())["enabled"] is False
    await shoot_both(page, "triggers")
    await page.evaluate(f"{row}.querySelector('[data-act=enable]').click()")
    await page.wait_for(f"{row}?.dataset.enabled === 'true'", "the trigger enabled again")


TOKEN = "dashboard-act-token"


@pytest.fixture
async def guarded(db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> ApiClient:
    """The API with an API token."""
    return await aiohttp_client(create_app(db, Settings(api_token=TOKEN)))


@pytest.mark.parametrize("path", ["/statistics/minutes", "/sms", "/workflows/x/versions/1"])
async def test_the_new_routes_are_behind_the_token_with_the_json_error(guarded: ApiClient, path: str) -> None:
    response = await guarded.get(path)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"


async def test_the_dashboard_asks_for_the_token_before_acting(guarded: ApiClient, page: Page) -> None:
    await page.send("Page.navigate", url=str(guarded.make_url("/#/messages")))
    await page.wait_for("document.getElementById('token-dialog')?.open", "the token dialog")
    await page.evaluate(f"document.getElementById('token-input').value = '{TOKEN}'")
    await page.evaluate("document.getElementById('token-form').requestSubmit()")
    await page.wait_for("document.body.dataset.ready === '/messages'", "the messages page")
    assert await page.evaluate("!!document.getElementById('email-counts')")
