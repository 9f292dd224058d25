"""The team's own actions: declared with @action, run by a real worker, checked at save against the published
registry, listed in the catalog."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import pytest
from pydantic import BaseModel, Field

from conveyor import ActionContext, NonRetryableError, RetryAfter, action
from conveyor.commands.operations import create_workflow
from conveyor.config import Settings
from conveyor.engine.worker import Worker
from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import REGISTRY
from conveyor.store import Pool
from conveyor.store.actions import Declared, publish_actions
from conveyor.store.history import list_steps
from conveyor.store.workers import register_worker
from tests.integration.conftest import ApiClient, flow, run_flow, running_worker, wait_until_ended


class Greeting(BaseModel):
    name: str = Field(min_length=1)
    times: int = Field(default=1, ge=1, le=5)


@action("test.greet", params=Greeting, category="test", description="Greet someone")
async def greet(params: Greeting, ctx: ActionContext) -> JSONObject:
    return {"text": " ".join([f"hello {params.name}"] * params.times), "key": ctx.idempotency_key}


@action("test.sleep_plain", category="test")
def sleep_plain(params: JSONObject, ctx: ActionContext) -> JSONObject:
    """A plain action that blocks its thread: it must never block the event loop."""
    ctx.cancelled.wait(float(params.get("seconds", 2)))
    return {"slept": True, "cancelled": ctx.cancelled.is_set()}


@action("test.refuse", category="test")
async def refuse(params: JSONObject, ctx: ActionContext) -> JSONObject:
    raise NonRetryableError("the peer said no for good")


@action("test.busy_then_ok", category="test")
async def busy_then_ok(params: JSONObject, ctx: ActionContext) -> JSONObject:
    if ctx.attempt == 1:
        raise RetryAfter(0.3)
    return {"attempt": ctx.attempt}


@action("test.not_json", category="test")
async def not_json(params: JSONObject, ctx: ActionContext) -> object:
    return {"when": object()}


@action("test.uses_secret", secrets=["ACTION_TOKEN"], category="test")
async def uses_secret(params: JSONObject, ctx: ActionContext) -> JSONObject:
    return {"declared": sorted(ctx.secrets), "echo": ctx.secrets["ACTION_TOKEN"]}


@action("test.beats", category="test")
async def beats(params: JSONObject, ctx: ActionContext) -> JSONObject:
    for _ in range(int(params.get("beats", 0))):
        await asyncio.sleep(0.1)
        ctx.heartbeat({"done": _})
    await asyncio.sleep(float(params.get("then_silent", 0)))
    return {"ok": True}


def _node(node_id: str, key: str, **fields: object) -> JSONObject:
    return {"id": node_id, "type": "action", "action": key, **fields}


async def _published(db: Pool) -> None:
    """What a worker publishes at start, without starting one."""
    async with db.acquire() as conn:
        await publish_actions(conn, [spec.declared() for spec in REGISTRY])


async def test_an_async_action_runs_end_to_end_with_its_output_in_steps(db: Pool, worker: Worker) -> None:
    definition = flow(_node("hi", "test.greet", params={"name": "{{ input.name }}", "times": 2}))
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"name": "Ada"})).id)
    assert ex.state == "completed", ex.error
    async with db.acquire() as conn:
        [step] = await list_steps(conn, ex.id)
    assert step.output == {"text": "hello Ada hello Ada", "key": f"{ex.id}:hi:1"}


async def test_literal_params_that_break_the_schema_are_a_422_naming_the_field(db: Pool) -> None:
    await _published(db)
    with pytest.raises(DefinitionError) as caught:
        await create_workflow(db, flow(_node("hi", "test.greet", params={"name": "Ada", "times": 9})))
    assert caught.value.details["field"] == "/nodes/0/params/times"
    with pytest.raises(DefinitionError) as caught:
        await create_workflow(db, flow(_node("hi", "test.greet", params={"times": 2})))
    assert caught.value.details["field"] == "/nodes/0/params/name"
    # A templated value is known only once rendered: accepted now, checked by the step.
    await create_workflow(db, flow(_node("hi", "test.greet", params={"name": "x", "times": "{{ input.n }}"})))


async def test_an_unknown_action_is_a_422_naming_the_node(db: Pool) -> None:
    await _published(db)
    with pytest.raises(DefinitionError) as caught:
        await create_workflow(db, flow(_node("a", "noop"), _node("b", "crm.nowhere")))
    assert caught.value.details["field"] == "/nodes/1/action"
    assert "crm.nowhere" in caught.value.message


async def test_templated_params_that_render_wrong_fail_the_step_naming_the_field(db: Pool, worker: Worker) -> None:
    definition = flow(_node("hi", "test.greet", params={"name": "Ada", "times": "{{ input.times }}"}))
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"times": 50})).id)
    assert ex.state == "failed"
    assert ex.error is not None
    assert ex.error["code"] == "invalid_action_params"
    assert ex.error["details"]["field"] == "params/times"


async def test_non_retryable_error_fails_without_spending_the_other_attempts(db: Pool, worker: Worker) -> None:
    definition = flow(_node("no", "test.refuse", retry={"max_attempts": 5, "delay": "50ms"}))
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert (ex.state, ex.attempt) == ("failed", 1)
    assert ex.error is not None
    assert ex.error["message"] == "the peer said no for good"


async def test_retry_after_waits_the_time_the_action_asked_for(db: Pool, worker: Worker) -> None:
    definition = flow(_node("busy", "test.busy_then_ok", retry={"max_attempts": 2, "delay": "1h", "jitter": False}))
    began = time.monotonic()
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"attempt": 2}
    assert time.monotonic() - began < 10  # the policy's hour gave way to the action's 0.3 s


async def test_a_result_that_is_not_json_fails_the_step_clearly(db: Pool, worker: Worker) -> None:
    ex = await wait_until_ended(db, (await run_flow(db, flow(_node("x", "test.not_json")))).id)
    assert ex.state == "failed"
    assert ex.error is not None
    assert ex.error["code"] == "invalid_action_result"
    assert "not JSON" in ex.error["message"]


async def test_an_action_gets_its_declared_secrets_and_its_output_is_redacted(
    db: Pool, database_url: str, settings: Settings
) -> None:
    value = f"tok-{uuid.uuid4().hex}"
    with_secret = dataclasses.replace(settings, env_secrets={"ACTION_TOKEN": value, "OTHER": "x" * 12})
    async with running_worker(db, database_url, with_secret):
        ex = await wait_until_ended(db, (await run_flow(db, flow(_node("s", "test.uses_secret")))).id)
    assert ex.state == "completed"
    assert ex.output is not None
    assert ex.output["declared"] == ["ACTION_TOKEN"]
    assert value not in str(ex.output)


async def test_a_plain_action_that_blocks_does_not_hold_up_other_steps(db: Pool, worker: Worker) -> None:
    sleeper = await run_flow(db, flow(_node("zz", "test.sleep_plain", params={"seconds": 2})))
    await asyncio.sleep(0.2)  # the sleeper's thread is blocked now
    began = time.monotonic()
    quick = await wait_until_ended(db, (await run_flow(db, flow(_node("a", "noop"), _node("b", "noop")))).id)
    assert quick.state == "completed"
    assert time.monotonic() - began < 1.0
    assert (await wait_until_ended(db, sleeper.id)).state == "completed"


async def test_a_node_timeout_abandons_a_plain_action_and_tells_its_thread(db: Pool, worker: Worker) -> None:
    definition = flow(_node("zz", "test.sleep_plain", params={"seconds": 30}, timeout="300ms"))
    began = time.monotonic()
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "failed"
    assert ex.error is not None
    assert ex.error["code"] == "step_timeout"
    assert time.monotonic() - began < 5


async def test_heartbeat_timeout_fails_a_silent_action_and_spares_a_beating_one(db: Pool, worker: Worker) -> None:
    beating = flow(_node("b", "test.beats", params={"beats": 8}, heartbeat_timeout="300ms"))
    silent = flow(_node("s", "test.beats", params={"beats": 1, "then_silent": 5}, heartbeat_timeout="300ms"))
    alive = await wait_until_ended(db, (await run_flow(db, beating)).id)
    stuck = await wait_until_ended(db, (await run_flow(db, silent)).id)
    assert alive.state == "completed"
    assert stuck.state == "failed"
    assert stuck.error is not None
    assert stuck.error["code"] == "step_timeout"
    assert "heartbeat" in stuck.error["message"]


async def test_the_catalog_lists_actions_with_schemas_and_providing_workers(api: ApiClient, worker: Worker) -> None:
    async def listed() -> JSONObject:
        answer = await api.get("/actions?limit=1000")
        assert answer.status == 200
        return {a["key"]: a for a in (await answer.json())["items"]}

    deadline = time.monotonic() + 10
    while "test.greet" not in (found := await listed()) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    greet_entry = found["test.greet"]
    assert greet_entry["description"] == "Greet someone"
    assert greet_entry["provided"] is True
    [version] = greet_entry["versions"]
    assert version["workers"] == [worker.id]
    assert version["params_schema"]["properties"]["times"]["maximum"] == 5
    assert found["send_email"]["builtin"] is True
    one = await api.get("/actions/test.greet")
    assert (await one.json())["key"] == "test.greet"
    missing = await api.get("/actions/crm.nowhere")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"


async def test_two_schemas_of_one_key_are_a_conflict_and_a_definition_meets_both(db: Pool, api: ApiClient) -> None:
    older = REGISTRY.get("test.greet")
    assert older is not None
    newer = older.declared()
    wider = {**newer.params_schema, "required": ["name", "locale"]}
    async with db.acquire() as conn:
        for worker_id, declared in (("w-old", older.declared()), ("w-new", _with(newer, wider))):
            await register_worker(conn, worker_id, "host", 1)
            await publish_actions(conn, [declared], worker=worker_id)
    entry = await (await api.get("/actions/test.greet")).json()
    assert entry["conflict"] is True
    assert len(entry["versions"]) == 2
    with pytest.raises(DefinitionError) as caught:
        await create_workflow(db, flow(_node("hi", "test.greet", params={"name": "Ada"})))
    assert caught.value.details["field"] == "/nodes/0/params/locale"


def _with(declared: Declared, params_schema: JSONObject) -> Declared:
    return dataclasses.replace(declared, params_schema=params_schema, version=uuid.uuid4().hex[:16])


async def test_a_declared_secret_that_does_not_exist_is_a_warning_not_a_refusal(db: Pool, api: ApiClient) -> None:
    await _published(db)
    definition = flow(_node("s", "test.uses_secret"), name="needs-a-secret")
    answer = await api.post("/workflows", json=definition)
    assert answer.status == 201, await answer.text()
    [warning] = (await answer.json())["warnings"]
    assert (warning["code"], warning["field"]) == ("missing_secret", "/nodes/0/action")
    assert "ACTION_TOKEN" in warning["message"]
