"""What is stored of a secret and of a literal credential: the marker, rendered in its place, in every table, log
and answer; and errors that echo neither a write-only field nor a guessed path."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from jinja2.filters import do_urlencode

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.http.app import create_app
from conveyor.redaction import marker
from conveyor.secret_cipher import generate_key
from conveyor.store import Pool
from conveyor.store.workflows import insert_workflow
from testkit.peers import Reply, WebhookPeer
from testkit.poll import poll_until
from tests.corpus import corpus
from tests.integration.conftest import ApiClient, flow, running_worker, wait_until_ended

KEY = generate_key()
FAST_RETRY = {"max_attempts": 2, "backoff": "fixed", "delay": "0.05s", "jitter": False}
# What the definition's own tables hold: the definition, literal credentials and all.
DEFINITION_TABLES = {"workflows", "workflow_versions"}


def _forms(value: str) -> set[str]:
    """Every way a value could be written into a record: as is, URL-encoded, JSON- or HTML-escaped."""
    return {
        value,
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        do_urlencode(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
        base64.b64encode(f"conveyor:{value}".encode()).decode(),
    }


async def _table_texts(db: Pool) -> dict[str, str]:
    async with db.acquire() as conn:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        return {
            t: "\n".join(r["row"] for r in await conn.fetch(f'SELECT t::text AS "row" FROM "{t}" t')) for t in tables
        }


@pytest.fixture
async def vault_api(db: Pool, aiohttp_client: Callable[..., Awaitable[ApiClient]]) -> ApiClient:
    """The API with a secret key."""
    return await aiohttp_client(create_app(db, Settings(secret_key=KEY)))


async def _run(db: Pool, database_url: str, settings: Settings, api: ApiClient, definition: Any) -> uuid.UUID:
    created = await api.post("/workflows", json=definition)
    assert created.status == 201, await created.text()
    workflow = await created.json()
    started = await (await api.post(f"/workflows/{workflow['id']}/executions", json={"input": {"id": "7"}})).json()
    async with running_worker(db, database_url, dataclasses.replace(settings, secret_key=KEY)):
        await wait_until_ended(db, uuid.UUID(started["id"]))
    return uuid.UUID(started["id"])


async def test_a_secret_in_a_url_and_a_header_is_sent_and_every_record_holds_its_marker(
    db: Pool,
    database_url: str,
    settings: Settings,
    vault_api: ApiClient,
    webhook_peer: WebhookPeer,
    logs: list[MutableMapping[str, Any]],
) -> None:
    # Characters a URL's userinfo and query, JSON and HTML each write in their own way.
    secret = f"p@ss:w rd&<>+'ü={uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM", json={"value": secret})).status == 201
    base = webhook_peer.url.replace("http://", "http://conveyor:{{ secrets.CRM|urlencode }}@")
    node = {
        "id": "call",
        "type": "webhook",
        "url": base + "?token={{ secrets.CRM|urlencode }}&id={{ input.id }}",
        "headers": {"X-Token": "{{ secrets.CRM }}"},
        "retry": FAST_RETRY,
    }
    webhook_peer.answer(500, Reply(200, "{}"))
    execution_id = await _run(db, database_url, settings, vault_api, flow(node))

    sent = [r.headers for r in webhook_peer.received]
    assert [h["X-Token"] for h in sent] == [secret] * 2
    assert [base64.b64decode(h["Authorization"].removeprefix("Basic ")).decode("latin-1") for h in sent] == [
        f"conveyor:{secret}"
    ] * 2
    recorded = webhook_peer.url.replace("http://", f"http://conveyor:{marker('CRM')}@")
    recorded += f"?token={marker('CRM')}&id=7"
    async with db.acquire() as conn:
        logged_urls = [r["url"] for r in await conn.fetch("SELECT url FROM webhook_logs ORDER BY attempt")]
        inputs = [r["input"] for r in await conn.fetch("SELECT input FROM execution_steps ORDER BY attempt")]
        error = await conn.fetchval("SELECT error FROM execution_steps WHERE status = 'failed'")
    assert logged_urls == [recorded, recorded]
    assert [i["url"] for i in inputs] == [recorded, recorded]
    assert error["details"]["url"] == recorded
    tables, answers = await _table_texts(db), await _answers(vault_api, execution_id)
    for form in _forms(secret):
        assert [t for t, text in tables.items() if form in text] == []
        assert [e for e in logs if form in repr(e)] == []
        assert [a for a in answers if form in a] == []


async def _answers(api: ApiClient, execution_id: uuid.UUID) -> list[str]:
    paths = ("", "/history", "/steps", "/webhooks")
    return [await (await api.get(f"/executions/{execution_id}{p}")).text() for p in paths]


async def test_a_literal_credential_is_saved_with_a_warning_and_concealed_in_every_record(
    db: Pool,
    database_url: str,
    settings: Settings,
    vault_api: ApiClient,
    webhook_peer: WebhookPeer,
    logs: list[MutableMapping[str, Any]],
) -> None:
    token, key, password = (f"literal-{n}-{uuid.uuid4().hex}" for n in ("token", "key", "password"))
    node = {
        "id": "call",
        "type": "webhook",
        "url": webhook_peer.url.replace("http://", f"http://conveyor:{password}@") + f"?api_key={key}&page=2",
        "headers": {"X-Api-Key": token},  # with a password in the URL, aiohttp takes no Authorization header
        "retry": FAST_RETRY,
    }
    created = await vault_api.post("/workflows", json=flow(node))
    assert created.status == 201
    warnings = (await created.json())["warnings"]
    assert [(w["code"], w["field"]) for w in warnings] == [
        ("literal_credential", "/nodes/0/url"),
        ("literal_credential", "/nodes/0/url"),
        ("literal_credential", "/nodes/0/headers/X-Api-Key"),
    ]
    assert all("{{ secrets.NAME }}" in w["message"] for w in warnings)
    webhook_peer.answer(500, Reply(200, "{}"))
    execution_id = await _run(db, database_url, settings, vault_api, flow(node))

    assert [r.headers["X-Api-Key"] for r in webhook_peer.received] == [token] * 2
    async with db.acquire() as conn:
        logged_urls = {r["url"] for r in await conn.fetch("SELECT url FROM webhook_logs")}
    assert logged_urls == {
        webhook_peer.url.replace("http://", "http://conveyor:«redacted»@") + "?api_key=«redacted»&page=2"
    }
    tables, answers = await _table_texts(db), await _answers(vault_api, execution_id)
    for literal in (token, key, password):
        assert [t for t, text in tables.items() if literal in text and t not in DEFINITION_TABLES] == []
        assert [e for e in logs if literal in repr(e)] == []
        assert [a for a in answers if literal in a] == []


async def test_an_echoed_secret_never_reaches_an_email_log_even_html_escaped(
    db: Pool, database_url: str, settings: Settings, vault_api: ApiClient, webhook_peer: WebhookPeer
) -> None:
    secret = f"<b>&amp;'\"{uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM", json={"value": secret})).status == 201
    template = {"subject": "echo", "text_body": "{{ params.echo }}", "html_body": "<p>{{ params.echo }}</p>"}
    assert (await vault_api.put("/templates/echo", json=template)).status in (200, 201)
    webhook_peer.answer(Reply(200, json.dumps({"echo": secret})))
    definition = flow(
        {"id": "call", "type": "webhook", "url": webhook_peer.url, "headers": {"X-Token": "{{ secrets.CRM }}"}},
        {
            "id": "mail",
            "type": "action",
            "action": "send_email",
            "params": {"to": "ada@example.com", "template": "echo", "echo": "{{ steps.call.output.body.echo }}"},
        },
    )
    execution_id = await _run(db, database_url, settings, vault_api, definition)
    async with db.acquire() as conn:
        bodies = await conn.fetchrow(
            "SELECT text_body, html_body FROM email_logs WHERE execution_id = $1", execution_id
        )
    assert bodies is not None
    assert bodies["text_body"] == marker("CRM")
    assert bodies["html_body"] == f"<p>{html.escape(marker('CRM'))}</p>"
    for form in _forms(secret):
        assert [t for t, text in (await _table_texts(db)).items() if form in text] == []


async def test_a_secret_in_an_email_param_is_refused_before_anything_is_stored(vault_api: ApiClient) -> None:
    assert (await vault_api.put("/secrets/CRM", json={"value": f"v-{uuid.uuid4().hex}"})).status == 201
    node = {
        "id": "mail",
        "type": "action",
        "action": "send_email",
        "params": {"to": "ada@example.com", "template": "generic_welcome", "token": "{{ secrets.CRM }}"},
    }
    response = await vault_api.post("/workflows", json=flow(node))
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["details"]["field"] == "/nodes/0/params/token"
    assert "only where it is sent" in error["message"]


async def test_a_trigger_error_never_echoes_its_secret(api: ApiClient) -> None:
    secret = f"hook-secret-{uuid.uuid4().hex}"
    workflow = await (await api.post("/workflows", json=flow({"id": "n", "type": "delay", "duration": 1}))).json()
    path = f"/workflows/{workflow['id']}/triggers"
    created = await api.post(path, json={"type": "webhook", "path": f"in/{uuid.uuid4().hex}", "secret": secret})
    assert created.status == 201
    trigger_id = (await created.json())["id"]
    for body in ({"path": None}, {"type": None}, {"path": 7}, {"secret": None, "path": None}, {"rate_limit": "x"}):
        answer = await api.patch(f"/triggers/{trigger_id}", json=body)
        assert answer.status == 422, body
        assert secret not in await answer.text()
    short = await api.post(path, json={"type": "webhook", "path": "x", "secret": "short-1"})
    assert short.status == 422
    assert "short-1" not in await short.text()


async def test_a_hook_404_is_the_same_whatever_the_guess(db: Pool, vault_api: ApiClient) -> None:
    secret = f"guess-me-{uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM", json={"value": secret})).status == 201
    guesses = [secret, f"not-it-{uuid.uuid4().hex}", "a" * 300, "a/b/c", "%00", "é"]
    answers = []
    for guess in guesses:
        response = await vault_api.post(f"/hooks/{guess}", json={})
        answers.append((response.status, await response.text()))
    assert {status for status, _ in answers} == {404}
    assert len({text for _, text in answers}) == 1
    assert all(guess not in text and "«secret" not in text for guess, (_, text) in zip(guesses, answers, strict=True))


@pytest.mark.parametrize(
    "path",
    [
        "/nowhere/{guess}",
        "/workflows/{guess}/nothing",
        "/workflows/{guess}",
        "/workflows/{guess}/versions",
        "/templates/{guess}",
        "/executions/{guess}",
        "/triggers/{guess}",
    ],
)
async def test_a_404_does_not_echo_the_path_and_is_the_same_for_a_secret(vault_api: ApiClient, path: str) -> None:
    secret = f"guess-me-{uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM", json={"value": secret})).status == 201
    answers = []
    for guess in (secret, f"guess-{uuid.uuid4().hex}"):
        response = await vault_api.get(path.format(guess=guess))
        assert response.status in (404, 405)
        text = await response.text()
        assert guess not in text
        assert "«secret" not in text
        answers.append((response.status, text))
    assert answers[0] == answers[1]


@pytest.mark.parametrize("entry", corpus("secrets.json", "email_templates", "note"))
async def test_an_email_template_naming_a_secret_is_refused(api: ApiClient, entry: dict[str, Any]) -> None:
    body = {"subject": "s", "text_body": "t", entry["field"][1:]: entry["template"]}
    response = await api.put(f"/templates/t-{uuid.uuid4().hex[:8]}", json=body)
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == entry["field"]


async def test_a_stored_definition_with_a_misplaced_secret_fails_its_step_and_sends_nothing(
    db: Pool, database_url: str, settings: Settings, vault_api: ApiClient, webhook_peer: WebhookPeer
) -> None:
    secret = f"stored-before-the-rule-{uuid.uuid4().hex}"
    assert (await vault_api.put("/secrets/CRM", json={"value": secret})).status == 201
    node = {"id": "call", "type": "webhook", "url": webhook_peer.url, "body": {"token": "{{ secrets.CRM|upper }}"}}
    async with db.acquire() as conn:  # as a definition saved before the rule was
        workflow = await insert_workflow(conn, "default", f"old-{uuid.uuid4().hex[:8]}", None, flow(node))
    started = await (await vault_api.post(f"/workflows/{workflow.id}/executions", json={"input": {}})).json()
    async with running_worker(db, database_url, dataclasses.replace(settings, secret_key=KEY)):
        ex = await wait_until_ended(db, uuid.UUID(started["id"]))
    assert ex.state == "failed"
    assert ex.error is not None
    assert ex.error["code"] == "misplaced_secret"
    assert ex.error["details"]["field"] == "/body/token"
    assert webhook_peer.received == []
    assert [t for t, text in (await _table_texts(db)).items() if secret.upper() in text or secret in text] == []


async def test_a_poll_failure_conceals_the_credentials_in_its_url(
    api: ApiClient, db: Pool, worker: Worker, webhook_peer: WebhookPeer, logs: list[MutableMapping[str, Any]]
) -> None:
    password, token = f"pw-literal-{uuid.uuid4().hex}", f"tok-literal-{uuid.uuid4().hex}"
    workflow = await (await api.post("/workflows", json=flow({"id": "n", "type": "delay", "duration": 1}))).json()
    url = webhook_peer.url.replace("http://", f"http://admin:{password}@") + f"?token={token}&page=1"
    webhook_peer.answer(*[500] * 20)
    definition = {"type": "poll", "url": url, "items": "data", "key": "id", "interval": "1s"}
    created = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    assert created.status == 201
    trigger_id = (await created.json())["id"]

    async def last_error() -> str | None:
        error: str | None = (await (await api.get(f"/triggers/{trigger_id}")).json())["last_error"]
        return error

    error = await poll_until(last_error, "the poll to fail")
    assert error is not None
    assert webhook_peer.url.replace("http://", "http://admin:«redacted»@") + "?token=«redacted»&page=1" in error
    tables = await _table_texts(db)
    async with db.acquire() as conn:  # the trigger's row but its definition
        tables["triggers"] = "\n".join(
            r["row"] for r in await conn.fetch("SELECT (to_jsonb(t) - 'definition')::text AS row FROM triggers t")
        )
    for literal in (password, token):
        assert [t for t, text in tables.items() if literal in text and t not in DEFINITION_TABLES] == []
        assert [e for e in logs if literal in repr(e)] == []
