"""Steps that hang or trickle give their slot back by their timeout: a default when the node sets none, never
more than CONVEYOR_MAX_STEP_TIMEOUT, and CONVEYOR_ANSWER_SECONDS for a body however slowly it comes. Twenty of
them do not keep an ordinary execution from its turn on a worker with few slots."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta

import pytest

from conveyor.config import Settings
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from testkit.peers import WebhookPeer
from tests.answer_peer import AnswerPeer
from tests.integration.conftest import flow, run_flow, running_worker, wait_until_ended

HANGING = 20
PROMPTLY_SECONDS = 20.0


async def _starve(db: Pool, database_url: str, settings: Settings, call: JSONObject) -> None:
    """Start HANGING executions of `call`, then an ordinary one; it must end promptly, and they by timeout."""
    hanging = [await run_flow(db, flow(call)) for _ in range(HANGING)]
    async with running_worker(db, database_url, settings):
        started = time.monotonic()
        ordinary = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}))
        assert (await wait_until_ended(db, ordinary.id, timeout=PROMPTLY_SECONDS)).state == "completed"
        assert time.monotonic() - started < PROMPTLY_SECONDS
        for ex in hanging:
            ended = await wait_until_ended(db, ex.id, timeout=PROMPTLY_SECONDS)
            assert ended.state == "failed"
            assert isinstance(ended.error, dict)
            assert ended.error["code"] == "step_timeout"


@pytest.mark.parametrize(
    ("timeout", "limits"),
    [
        pytest.param("1h", {"max_step_timeout": timedelta(seconds=1)}, id="an_hour_capped_by_the_maximum"),
        pytest.param(None, {"step_timeout": timedelta(seconds=1)}, id="none_set_so_the_default"),
    ],
)
async def test_hanging_webhooks_give_their_slots_back_by_their_timeout(
    db: Pool,
    database_url: str,
    settings: Settings,
    webhook_peer: WebhookPeer,
    timeout: str | None,
    limits: dict[str, timedelta],
) -> None:
    webhook_peer.hold()
    call: JSONObject = {"id": "call", "type": "webhook", "method": "GET", "url": webhook_peer.url}
    if timeout is not None:
        call["timeout"] = timeout
    await _starve(db, database_url, dataclasses.replace(settings, concurrency=2, **limits), call)  # type: ignore[arg-type]


async def test_trickling_webhooks_give_their_slots_back_by_the_answer_budget(
    db: Pool, database_url: str, settings: Settings
) -> None:
    limited = dataclasses.replace(settings, concurrency=2, answer_read_seconds=1.0)
    async with AnswerPeer({"shape": "trickle", "bytes": 1_000_000}) as peer:
        call: JSONObject = {"id": "call", "type": "webhook", "method": "GET", "url": peer.url, "timeout": "1h"}
        await _starve(db, database_url, limited, call)
