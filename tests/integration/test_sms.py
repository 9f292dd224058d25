"""send_sms: logged by the `log` transport, posted to a provider-shaped HTTP API by `http`; one row per key,
never re-sent once sent."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from conveyor.commands.operations import create_workflow
from conveyor.config import Settings
from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.sms import list_sms
from tests.integration.conftest import flow, run_flow, running_worker, wait_until_ended


class Provider:
    """An SMS provider's messages endpoint on 127.0.0.1: form-encoded To/From/Body, basic auth, a `sid`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], str | None, str | None]] = []
        self.statuses: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.received.append((form, request.headers.get("Authorization"), request.headers.get("Idempotency-Key")))
        status = self.statuses.pop(0) if self.statuses else 201
        return web.json_response({"sid": f"SM{len(self.received)}", "status": "queued"}, status=status)


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    peer = Provider()
    app = web.Application()
    app.router.add_post("/Accounts/AC1/Messages.json", peer.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    peer.url = f"http://127.0.0.1:{port}/Accounts/AC1/Messages.json"
    yield peer
    await runner.cleanup()


def _sms(**fields: object) -> JSONObject:
    return {"id": "text", "type": "action", "action": "send_sms", **fields}


async def test_the_log_transport_records_one_row_and_sends_nothing(
    db: Pool, database_url: str, settings: Settings
) -> None:
    async with running_worker(db, database_url, settings):
        ex = await wait_until_ended(
            db,
            (
                await run_flow(
                    db, flow(_sms(params={"to": "+15551234567", "body": "Hi {{ input.name }}"})), {"name": "Ada"}
                )
            ).id,
        )
    assert ex.state == "completed", ex.error
    async with db.acquire() as conn:
        [row] = await list_sms(conn, "default", ex.id, 10)
    assert (row.recipient, row.body, row.status, row.transport) == ("+15551234567", "Hi Ada", "logged", "log")


async def test_the_http_transport_posts_provider_shaped_and_retries_without_resending(
    db: Pool, database_url: str, settings: Settings, provider: Provider
) -> None:
    http = dataclasses.replace(
        settings,
        sms_transport="http",
        sms_url=provider.url,
        sms_from="+15550000000",
        sms_username="AC1",
        sms_password="auth-token-123",
    )
    provider.statuses = [503]  # the first try fails retryably: the retry sends once more, under the same key
    definition = flow(
        _sms(params={"to": "+15551234567", "body": "Welcome"}, retry={"max_attempts": 3, "delay": "50ms"})
    )
    async with running_worker(db, database_url, http):
        ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed", ex.error
    assert ex.output == {"to": "+15551234567", "status": "sent", "provider_id": "SM2"}
    assert [form for form, _, _ in provider.received] == [
        {"To": "+15551234567", "From": "+15550000000", "Body": "Welcome"}
    ] * 2
    assert {key for _, _, key in provider.received} == {f"{ex.id}:text:1"}
    assert all(auth is not None and auth.startswith("Basic ") for _, auth, _ in provider.received)
    async with db.acquire() as conn:
        [row] = await list_sms(conn, "default", ex.id, 10)
    assert (row.status, row.provider_id) == ("sent", "SM2")


async def test_a_refusal_fails_the_step_for_good(
    db: Pool, database_url: str, settings: Settings, provider: Provider
) -> None:
    http = dataclasses.replace(settings, sms_transport="http", sms_url=provider.url)
    provider.statuses = [400]
    definition = flow(_sms(params={"to": "+15551234567", "body": "x"}, retry={"max_attempts": 3, "delay": "50ms"}))
    async with running_worker(db, database_url, http):
        ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert (ex.state, ex.attempt) == ("failed", 1)
    assert len(provider.received) == 1


async def test_a_number_that_is_not_e164_is_a_422_naming_the_field(db: Pool) -> None:
    with pytest.raises(DefinitionError) as caught:
        await create_workflow(db, flow(_sms(params={"to": "555-1234", "body": "x"})))
    assert caught.value.details["field"] == "/nodes/0/params/to"
