"""Text that arrives as data is never rendered as a template, through a real execution."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer

from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.history import list_steps
from tests.integration.conftest import flow, run_flow, wait_until_ended


async def test_a_template_in_the_input_reaches_the_target_literally(
    db: Pool, worker: Worker, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    received: list[object] = []

    async def echo(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"echo": "{{ 6*7 }}"})

    app = web.Application()
    app.router.add_post("/echo", echo)
    server = await aiohttp_server(app, host="127.0.0.1")
    call = {
        "id": "call",
        "type": "webhook",
        "url": str(server.make_url("/echo")),
        "body": {"value": "{{ input.x }}", "text": "got {{ input.x }}"},
    }
    # The second call renders the first call's answer, which carries a template of its own.
    again = {**call, "id": "again", "body": {"value": "{{ steps.call.output.body.echo }}"}}
    ex = await wait_until_ended(db, (await run_flow(db, flow(call, again), {"x": "{{ 7*7 }}"})).id)

    assert ex.state == "completed"
    assert received == [{"value": "{{ 7*7 }}", "text": "got {{ 7*7 }}"}, {"value": "{{ 6*7 }}"}]
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
    assert [s.input["body"] for s in steps] == received
