"""The guarded client session against real HTTP servers on 127.0.0.1, with DNS under the test's control."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.config import Settings
from conveyor.services.webhook_guard import ForbiddenTargetError, webhook_session
from conveyor.store import Pool
from tests.corpus import corpus
from tests.integration.conftest import flow, run_flow, running_worker, wait_until_ended
from tests.resolver import FixedResolver


@dataclass
class Peer:
    """A local server: /start redirects to `redirect_to`, /secret counts the requests that reach it."""

    port: int = 0
    redirect_to: str = "/secret"
    secret_hits: int = 0


@pytest.fixture
async def peer(aiohttp_server: Callable[..., Awaitable[TestServer]]) -> Peer:
    state = Peer()

    async def start(request: web.Request) -> web.Response:
        raise web.HTTPFound(state.redirect_to)

    async def secret(request: web.Request) -> web.Response:
        state.secret_hits += 1
        return web.json_response({"secret": True})

    app = web.Application()
    app.router.add_route("*", "/start", start)
    app.router.add_route("*", "/secret", secret)
    server = await aiohttp_server(app, host="127.0.0.1")
    assert server.port is not None
    state.port = server.port
    return state


@pytest.mark.parametrize("entry", corpus("addresses.json", "refused", "url"))
async def test_the_session_refuses_every_refused_target_before_connecting(entry: dict[str, Any]) -> None:
    name = entry["url"].split("//", 1)[1].split("/", 1)[0]
    resolver = FixedResolver({name: [entry.get("resolves_to", [])]})
    async with webhook_session(frozenset(), resolver=resolver) as http:
        with pytest.raises((ForbiddenTargetError, aiohttp.InvalidURL)):
            await http.get(entry["url"], timeout=aiohttp.ClientTimeout(total=5))


async def test_a_name_is_resolved_once_and_the_checked_answer_is_the_one_connected_to(peer: Peer) -> None:
    # The attacker's DNS answers a public address first, loopback afterwards (DNS rebinding).
    resolver = FixedResolver({"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    url = f"http://rebind.example:{peer.port}/secret"
    async with webhook_session(frozenset(), resolver=resolver) as http:
        with pytest.raises((aiohttp.ClientError, TimeoutError)):
            await http.get(url, timeout=aiohttp.ClientTimeout(total=2))
    assert resolver.calls == ["rebind.example"]
    async with webhook_session(frozenset(), resolver=resolver) as http:
        with pytest.raises(ForbiddenTargetError):
            await http.get(url, timeout=aiohttp.ClientTimeout(total=2))
    assert peer.secret_hits == 0


async def test_a_redirect_hop_to_a_forbidden_address_is_refused(peer: Peer) -> None:
    peer.redirect_to = f"http://127.0.0.1:{peer.port}/secret"
    resolver = FixedResolver({"public.example": [["127.0.0.1"]]})
    async with webhook_session(frozenset({"public.example"}), resolver=resolver) as http:
        with pytest.raises(ForbiddenTargetError):
            await http.get(f"http://public.example:{peer.port}/start")
    assert peer.secret_hits == 0


async def test_the_webhook_node_does_not_follow_redirects(db: Pool, database_url: str, peer: Peer) -> None:
    node = {"id": "call", "type": "webhook", "method": "GET", "url": f"http://127.0.0.1:{peer.port}/start"}
    settings = Settings(webhook_allow_hosts=frozenset({"127.0.0.1"}))
    async with running_worker(db, database_url, settings):
        ex = await wait_until_ended(db, (await run_flow(db, flow(node))).id)
    assert ex.state == "failed"
    assert ex.error["details"]["status"] == 302
    assert peer.secret_hits == 0


@pytest.mark.parametrize("host", ["127.1", "0x7f.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "metadata.goog"])
async def test_a_url_forbidden_only_after_templating_is_refused(db: Pool, database_url: str, host: str) -> None:
    node = {"id": "call", "type": "webhook", "method": "GET", "url": "http://{{ input.host }}:9/x"}
    async with running_worker(db, database_url, Settings()):
        ex = await wait_until_ended(db, (await run_flow(db, flow(node), {"host": host})).id)
    assert ex.state == "failed"
    assert ex.error["code"] == "forbidden_webhook_target"
