"""What a chaos round runs: a mixed workflow with parallel branches, a foreach and a shared flow, and executions
started over HTTP."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from testkit.peers import WebhookPeer

_POSTERS = 8
RETRY_SECONDS = 60.0


def definitions(peer: WebhookPeer) -> tuple[dict[str, object], dict[str, object]]:
    """The shared flow and the workflow that calls it; each execution has five children of its own (two branches,
    three items), and half of them a shared flow's."""
    body = {"execution": "{{ execution.id }}", "visit": "{{ execution.visit }}"}
    child: dict[str, object] = {
        "name": "chaos-child",
        "start": "ping",
        "nodes": [
            {"id": "ping", "type": "webhook", "url": peer.url_for("/ping"), "body": body, "next": "done"},
            {"id": "done", "type": "action", "action": "noop"},
        ],
    }
    email = {"to": "{{ input.email }}", "template": "generic_welcome"}
    parent: dict[str, object] = {
        "name": "chaos",
        "start": "welcome",
        "nodes": [
            {"id": "welcome", "type": "action", "action": "send_email", "params": email, "next": "crm"},
            {"id": "crm", "type": "webhook", "url": peer.url_for("/crm"), "body": body, "next": "fan"},
            # Two branches side by side up to the foreach; then three items, two at a time: children of their own.
            {"id": "fan", "type": "parallel", "branches": ["left", "right"], "join": "each"},
            {"id": "left", "type": "webhook", "url": peer.url_for("/left"), "body": body, "next": "each"},
            {"id": "right", "type": "action", "action": "noop", "next": "each"},
            {"id": "each", "type": "foreach", "items": [1, 2, 3], "branch": "item", "concurrency": 2,
             "next": "wait"},
            {"id": "item", "type": "webhook", "url": peer.url_for("/item"), "body": body},
            {"id": "wait", "type": "delay", "duration": "1s", "next": "branch"},
            {"id": "branch", "type": "condition", "rule": {"==": [{"var": "input.shared"}, True]},
             "then": "shared", "else": "nudge"},
            {"id": "shared", "type": "shared_flow", "flow": "chaos-child", "input": {"email": "{{ input.email }}"},
             "next": "nudge"},
            {"id": "nudge", "type": "action", "action": "send_email",
             "params": {**email, "template": "engagement_nudge"}},
        ],
    }  # fmt: skip
    return child, parent


async def post_executions(url: str, total: int, seconds: float) -> list[int]:
    """Start `total` executions over HTTP, spread over `seconds`; the answers that were neither a success nor
    503 (0: no answer at all). A 503 (the database away) is tried again, for up to RETRY_SECONDS."""
    queue = list(range(total))
    started = time.monotonic()
    bad: list[int] = []

    async def poster(session: aiohttp.ClientSession) -> None:
        while queue:
            n = queue.pop()
            # Pace the feed: the round's load is spread out, so the kills meet work at every stage.
            await asyncio.sleep(max(0.0, started + seconds * (total - n) / total - time.monotonic()))
            payload = {"input": {"email": f"user{n}@example.com", "shared": n % 2 == 0}, "dedupe_key": str(n)}
            deadline = time.monotonic() + RETRY_SECONDS
            while True:
                try:
                    async with session.post(url, json=payload) as response:
                        status = response.status
                except aiohttp.ClientError:
                    status = 0
                if status in (200, 201):
                    break
                if status != 503:
                    bad.append(status)
                if time.monotonic() > deadline:
                    raise RuntimeError(f"could not start execution {n}: {status}")
                await asyncio.sleep(0.1)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(poster(session) for _ in range(_POSTERS)))
    return bad
