"""A step whose commit the database refuses is not run again for it: refused the same way twice (or too large
to store), the step fails with its history, after one call of its side effect; refused once, it commits."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.history import list_steps
from testkit.peers import Reply, WebhookPeer
from tests.integration.conftest import flow, history_events, run_flow, wait_until_ended

# A real refusal by PostgreSQL: a trigger that raises program_limit_exceeded (what a result past jsonb's limits
# gets) for any step row whose output holds the marker, the first `times` times (a sequence counts them: it
# is not rolled back with the refused statement).
_REFUSE = """
CREATE TABLE IF NOT EXISTS test_refusals (times int NOT NULL);
CREATE SEQUENCE IF NOT EXISTS test_refused;
CREATE OR REPLACE FUNCTION test_refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.output::text LIKE '%refuse-me%'
       AND EXISTS (SELECT 1 FROM test_refusals WHERE nextval('test_refused') <= times) THEN
        RAISE EXCEPTION 'row is too big' USING ERRCODE = 'program_limit_exceeded';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER test_refuse_marked BEFORE INSERT OR UPDATE ON execution_steps
    FOR EACH ROW EXECUTE FUNCTION test_refuse_marked();
"""
_UNDO = """
DROP TRIGGER IF EXISTS test_refuse_marked ON execution_steps;
DROP TABLE IF EXISTS test_refusals;
DROP SEQUENCE IF EXISTS test_refused
"""


@pytest.fixture
async def refusing(db: Pool) -> AsyncIterator[Pool]:
    """The database, refusing marked step rows while the test runs."""
    async with db.acquire() as conn:
        await conn.execute(_REFUSE)
    try:
        yield db
    finally:
        async with db.acquire() as conn:
            await conn.execute(_UNDO)


async def _refuse(db: Pool, times: int) -> None:
    async with db.acquire() as conn:
        await conn.execute("DELETE FROM test_refusals")
        await conn.execute("ALTER SEQUENCE test_refused RESTART")
        await conn.execute("INSERT INTO test_refusals VALUES ($1)", times)


def _call(url: str) -> dict[str, object]:
    retry = {"max_attempts": 3, "backoff": "fixed", "delay": "50ms", "jitter": False}
    return {"id": "call", "type": "webhook", "method": "GET", "url": url, "retry": retry}


async def test_a_commit_refused_twice_fails_the_step_after_one_call(
    refusing: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    await _refuse(refusing, 1000)
    webhook_peer.answer(*[Reply(200, '{"mark": "refuse-me"}')] * 50)
    ex = await wait_until_ended(refusing, (await run_flow(refusing, flow(_call(webhook_peer.url)))).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert (ex.error["code"], ex.error["details"]["sqlstate"]) == ("commit_refused", "54000")
    assert len(webhook_peer.received) == 1  # no retry, no re-run: the side effect ran once
    assert (await history_events(refusing, ex.id))[-1] == "give_up"
    async with refusing.acquire() as conn:
        [step] = await list_steps(conn, ex.id)
    assert (step.status, step.output) == ("failed", None)


async def test_a_commit_refused_once_lands_on_its_second_try_without_calling_again(
    refusing: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    await _refuse(refusing, 1)
    webhook_peer.answer(Reply(200, '{"mark": "refuse-me"}'))
    ex = await wait_until_ended(refusing, (await run_flow(refusing, flow(_call(webhook_peer.url)))).id)
    assert ex.state == "completed"
    assert ex.output == {"status": 200, "body": {"mark": "refuse-me"}}
    assert len(webhook_peer.received) == 1


@pytest.fixture
def settings() -> Settings:
    """Results stored up to 64 KiB."""
    return Settings(
        lease_seconds=30.0, concurrency=10, webhook_allow_hosts=frozenset({"127.0.0.1"}), max_result_bytes=65536
    )


async def test_a_result_over_the_cap_fails_the_step_naming_the_setting_after_one_call(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(*[Reply(200, '{"big": "' + "x" * 100_000 + '"}')] * 5)
    ex = await wait_until_ended(db, (await run_flow(db, flow(_call(webhook_peer.url)))).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert ex.error["code"] == "result_too_large"
    assert "CONVEYOR_MAX_RESULT (65536 bytes)" in ex.error["message"]
    assert ex.error["details"]["field"] == "output"
    assert len(webhook_peer.received) == 1


async def test_a_child_input_over_the_cap_fails_the_shared_flow_step(db: Pool, worker: Worker) -> None:
    child = await run_flow(db, flow({"id": "a", "type": "action", "action": "noop"}, name="small-child"))
    await wait_until_ended(db, child.id)
    big = {"id": "go", "type": "shared_flow", "flow": "small-child", "input": {"blob": "{{ input.blob * 100 }}"}}
    ex = await wait_until_ended(db, (await run_flow(db, flow(big), {"blob": "y" * 1000})).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert (ex.error["code"], ex.error["details"]["field"]) == ("result_too_large", "input")
