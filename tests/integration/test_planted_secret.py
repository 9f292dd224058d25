"""A planted secret carried through a full run (webhook URL query, header and body, an echoing answer, email
params, a child's input, an error message, an SMTP password, the API token), through failures and retries:
afterwards no table, log line or API answer holds it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from bench.processes import free_port
from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.logging import processors
from conveyor.redaction import marker
from conveyor.secret_cipher import generate_key
from conveyor.store import Pool
from testkit.peers import Reply, WebhookPeer
from testkit.poll import poll_until
from tests.integration.conftest import ApiClient, flow, running_worker, wait_for_event, wait_until_ended

PLANTED = f"planted-{uuid.uuid4().hex}"
SMTP_PASSWORD = f"smtp-pass-{uuid.uuid4().hex}"
API_TOKEN = f"api-token-{uuid.uuid4().hex}"
KEY = generate_key()
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
NEEDLES = (PLANTED, SMTP_PASSWORD, API_TOKEN, KEY)


class Mailbox:
    """An SMTP server that requires AUTH, refuses the first session's logins and accepts the password after."""

    def __init__(self) -> None:
        self.logins = 0
        self.messages: list[bytes] = []

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        self.logins += 1
        good = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == SMTP_PASSWORD
        # The client tries each offered mechanism (PLAIN, LOGIN) in one session: the first session fails.
        if good and self.logins > 2:
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False, message="535 5.7.8 authentication failed")

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        return "250 accepted"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=box.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    yield box, port
    controller.stop()


@contextlib.contextmanager
def recorded_logs() -> Iterator[tuple[list[MutableMapping[str, Any]], list[str]]]:
    """Every event as logged (before any processor) and as rendered by conveyor's own JSON chain."""
    raw: list[MutableMapping[str, Any]] = []
    rendered: list[str] = []

    def record_raw(_logger: object, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        raw.append(dict(event))
        return event

    def record_rendered(_logger: object, _method: str, line: Any) -> Any:
        rendered.append(str(line))
        raise structlog.DropEvent

    # Changed in place, as capture_logs does, so loggers cached on first use see it too.
    chain = structlog.get_config()["processors"]
    saved = list(chain)
    chain[:] = [record_raw, *processors("json"), record_rendered]
    try:
        yield raw, rendered
    finally:
        chain[:] = saved


async def _table_texts(db: Pool) -> dict[str, str]:
    async with db.acquire() as conn:
        tables = [
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        return {
            t: "\n".join(r["row"] for r in await conn.fetch(f'SELECT t::text AS "row" FROM "{t}" t')) for t in tables
        }


def _definitions(peer: WebhookPeer, child_id: str) -> dict[str, Any]:
    fast_retry = {"max_attempts": 3, "backoff": "fixed", "delay": "0.05s", "jitter": False}
    return flow(
        {
            "id": "call",
            "type": "webhook",
            "url": peer.url + "?token={{ secrets.CRM_TOKEN }}&plain=1",
            "headers": {"Authorization": "Bearer {{ secrets.CRM_TOKEN }}"},
            "body": {"token": "{{ secrets.CRM_TOKEN }}", "note": "token {{ secrets['CRM_TOKEN'] }} inside"},
            "retry": fast_retry,
        },
        {
            "id": "mail",
            "type": "action",
            "action": "send_email",
            "params": {"to": "ada@example.com", "template": "generic_welcome", "token": "{{ secrets.CRM_TOKEN }}"},
            "retry": fast_retry,
        },
        {"id": "child", "type": "shared_flow", "flow": child_id, "input": {"token": "{{ secrets.CRM_TOKEN }}"}},
        # Fails, naming the secret's value in its error: "'dict object' has no attribute 'planted-…'".
        {"id": "boom", "type": "action", "action": "noop", "params": {"n": "n={{ input[secrets.CRM_TOKEN] }}"}},
    )


# AUTH without TLS: the peer is on loopback and exists to see the password arrive.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
@pytest.mark.filterwarnings("ignore:Session.login_data is deprecated:DeprecationWarning")
async def test_a_planted_secret_is_nowhere_after_a_full_run(
    db: Pool,
    database_url: str,
    settings: Settings,
    aiohttp_client: Callable[..., Awaitable[ApiClient]],
    webhook_peer: WebhookPeer,
    mailbox: tuple[Mailbox, int],
) -> None:
    box, smtp_port = mailbox
    configured = dataclasses.replace(
        settings,
        secret_key=KEY,
        api_token=API_TOKEN,
        email_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_username="conveyor",
        smtp_password=SMTP_PASSWORD,
    )
    api = await aiohttp_client(create_app(db, configured))
    answers: list[str] = []

    async def call(method: str, path: str, body: Any = None) -> Any:
        response = await api.request(method, path, json=body, headers=AUTH)
        answers.append(await response.text())
        return await response.json() if response.content_type == "application/json" else None

    # The peer fails the first call, then answers with the secret it was sent: the answer is stored too.
    webhook_peer.answer(500, Reply(200, json.dumps({"echo": PLANTED, "auth": f"Bearer {PLANTED}"})))
    with recorded_logs() as (raw, rendered):
        assert (await api.put("/secrets/CRM_TOKEN", json={"value": PLANTED}, headers=AUTH)).status == 201
        child = await call(
            "POST",
            "/workflows",
            flow({"id": "echo", "type": "action", "action": "noop", "params": {"got": "{{ input.token }}"}}),
        )
        workflow = await call("POST", "/workflows", _definitions(webhook_peer, child["id"]))
        started = await call("POST", f"/workflows/{workflow['id']}/executions", {"input": {"email": "a@b.c"}})
        execution_id = uuid.UUID(started["id"])
        async with running_worker(db, database_url, configured):
            assert (await wait_until_ended(db, execution_id)).state == "failed"
            await call("POST", f"/executions/{execution_id}/retry")
            await wait_for_event(db, execution_id, "retry")
            assert (await wait_until_ended(db, execution_id)).state == "failed"
        await poll_until(lambda: box.messages, "the SMTP server to accept the email", timeout_seconds=5)
        for path in (
            "/executions",
            f"/executions/{execution_id}",
            f"/executions/{execution_id}/history",
            f"/executions/{execution_id}/steps",
            f"/executions?parent={execution_id}",
            f"/emails?execution={execution_id}",
            "/emails/statistics",
            "/workflows",
            f"/workflows/{workflow['id']}",
            f"/workflows/{workflow['id']}/versions",
            "/secrets",
            "/triggers",
            "/recovery/statistics",
            "/health",
            "/metrics",
            "/nowhere",
        ):
            await call("GET", path)
        await call("POST", f"/executions/{execution_id}/pause")  # a 409, its error answer searched too

    # The facts the search races against: each path carried the secret, and a marker stands in its place.
    assert [r.headers["Authorization"] for r in webhook_peer.received] == [f"Bearer {PLANTED}"] * 2
    assert all(r.body == {"token": PLANTED, "note": f"token {PLANTED} inside"} for r in webhook_peer.received)
    assert (box.logins, len(box.messages)) == (3, 1)
    async with db.acquire() as conn:
        steps = {(r["node"], r["attempt"], r["status"]) for r in await conn.fetch("SELECT * FROM execution_steps")}
        boom_error = await conn.fetchval("SELECT error->>'message' FROM executions WHERE id = $1", execution_id)
        child_input = await conn.fetchval("SELECT input->>'token' FROM executions WHERE parent_id = $1", execution_id)
    assert {("call", 1, "failed"), ("call", 2, "completed"), ("mail", 1, "failed"), ("mail", 2, "completed")} <= steps
    assert marker("CRM_TOKEN") in boom_error
    assert child_input == marker("CRM_TOKEN")
    tables = await _table_texts(db)
    assert marker("CRM_TOKEN") in tables["webhook_logs"]
    assert marker("CRM_TOKEN") in tables["execution_steps"]
    assert {"secrets", "webhook_logs", "email_logs", "executions", "execution_steps", "execution_history"} <= set(
        tables
    )
    assert any("step_failed" in line for line in rendered)
    assert len(raw) == len(rendered) > 0
    for needle in NEEDLES:
        assert [t for t, text in tables.items() if needle in text] == []
        assert [e for e in raw if needle in repr(e)] == []
        assert [line for line in rendered if needle in line] == []
        assert [a for a in answers if needle in a] == []
