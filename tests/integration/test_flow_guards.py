"""The flow language's error paths, transform and guards, through a real worker: a runaway cycle is refused at save
or stopped by a guard whose name its history row carries; a timeout cancels even a sleeping execution."""

from __future__ import annotations

import uuid

import pytest

from conveyor.commands.operations import create_workflow
from conveyor.engine.worker import Worker
from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool
from conveyor.store.history import list_history, list_steps
from testkit.peers import WebhookPeer
from tests.integration.conftest import ApiClient, flow, run_flow, wait_until_ended

_FIXED = {"backoff": "fixed", "delay": "50ms", "jitter": False}


def _webhook(url: str, **extra: object) -> JSONObject:
    return {"id": "call", "type": "webhook", "method": "POST", "url": url, "body": {"n": "{{ input.n }}"}, **extra}


async def test_on_error_reaches_its_node_after_the_retries_with_the_error_for_templates(
    db: Pool, worker: Worker, webhook_peer: WebhookPeer
) -> None:
    webhook_peer.answer(503, 503, 503)
    definition = flow(
        _webhook(webhook_peer.url, retry={"max_attempts": 3, **_FIXED}, on_error="recover", next="done"),
        {"id": "done", "type": "action", "action": "noop", "next": None},
        {
            "id": "recover",
            "type": "transform",
            "set": {
                "failed": "{{ steps.call.error.type }}",
                "tries": {"rule": {"var": "steps.call.error.attempts"}},
                "said": "{{ steps.call.error.message }}",
            },
        },
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"n": 1})).id)
    assert ex.state == "completed"
    assert isinstance(ex.output, dict)
    assert (ex.output["failed"], ex.output["tries"]) == ("step_failed", 3)
    assert "503" in ex.output["said"]
    assert len(webhook_peer.received) == 3
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
        history = await list_history(conn, ex.id)
    assert [(s.node, s.attempt, s.status) for s in steps] == [
        ("call", 1, "failed"),
        ("call", 2, "failed"),
        ("call", 3, "failed"),
        ("recover", 1, "completed"),
    ]
    diverted = next(h for h in history if h.event == "divert")
    assert (diverted.from_state, diverted.to_state, diverted.node) == ("stepFailed", "running", "call")
    assert isinstance(diverted.detail, dict)
    assert diverted.detail["next"] == "recover"


async def test_transform_shapes_data_from_templates_and_rules_in_order(db: Pool, worker: Worker) -> None:
    definition = flow(
        {
            "id": "shape",
            "type": "transform",
            "set": {
                "name": "{{ input.first }} {{ input.last }}",
                "total": {"rule": {"+": [{"var": "input.a"}, {"var": "input.b"}]}},
                "tags": ["{{ input.first }}", 1],
            },
        },
        {"id": "use", "type": "action", "action": "noop", "params": {"t": "{{ steps.shape.output.total * 2 }}"}},
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"first": "Ada", "last": "L", "a": 2, "b": 3})).id)
    assert ex.state == "completed"
    assert ex.output == {"t": 10}
    async with db.acquire() as conn:
        [shape, _] = await list_steps(conn, ex.id)
    assert shape.output == {"name": "Ada L", "total": 5, "tags": ["Ada", 1]}
    assert ex.context["shape"]["visits"] == 1


async def test_a_cycle_nothing_leaves_is_refused_at_save_naming_its_nodes(db: Pool) -> None:
    runaway = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "b"},
        {"id": "b", "type": "action", "action": "noop", "next": "a"},
    )
    with pytest.raises(DefinitionError) as refused:
        await create_workflow(db, runaway)
    assert refused.value.details["field"] == "/nodes/0"
    assert "'a', 'b'" in refused.value.message


async def test_a_self_loop_and_a_closed_condition_loop_are_refused_but_a_paced_or_leavable_cycle_is_saved(
    db: Pool,
) -> None:
    itself = flow({"id": "a", "type": "transform", "set": {"x": 1}, "next": "a"})
    closed = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "c"},
        {"id": "c", "type": "condition", "rule": True, "then": "a", "else": "a"},
    )
    for definition in (itself, closed):
        with pytest.raises(DefinitionError):
            await create_workflow(db, definition)
    paced = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "d"},
        {"id": "d", "type": "delay", "duration": "1s", "next": "a"},
    )
    leavable = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "c"},
        {"id": "c", "type": "condition", "rule": True, "then": "a"},
    )
    by_error_path = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "b", "on_error": "out"},
        {"id": "b", "type": "action", "action": "noop", "next": "a"},
        {"id": "out", "type": "action", "action": "noop"},
    )
    for definition in (paced, leavable, by_error_path):
        await create_workflow(db, definition)


async def test_max_visits_stops_a_loop_with_a_history_row_naming_the_guard(db: Pool, worker: Worker) -> None:
    # A loop a condition could leave, but whose rule never does: only the guard stops it.
    definition = {
        **flow(
            {"id": "a", "type": "action", "action": "noop", "next": "c"},
            {"id": "c", "type": "condition", "rule": {"==": [{"var": "input.stop"}, True]}, "else": "a"},
        ),
        "max_visits": 5,
    }
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"stop": False})).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert ex.error["code"] == "max_visits_exceeded"
    async with db.acquire() as conn:
        history = await list_history(conn, ex.id)
        steps = await list_steps(conn, ex.id)
    assert len(steps) == 10  # five visits to each node
    last = history[-1]
    assert (last.to_state, last.event, last.node) == ("failed", "give_up", "a")
    assert isinstance(last.detail, dict)
    assert (last.detail["guard"], last.detail["limit"]) == ("max_visits", 5)


async def test_max_steps_stops_a_long_execution(db: Pool, worker: Worker) -> None:
    definition = {
        **flow(
            {"id": "a", "type": "action", "action": "noop", "next": "b"},
            {"id": "b", "type": "action", "action": "noop", "next": "c"},
            {"id": "c", "type": "condition", "rule": False, "else": "a"},
        ),
        "max_steps": 7,
    }
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert ex.error["code"] == "max_steps_exceeded"
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
        history = await list_history(conn, ex.id)
    assert len(steps) == 7
    assert isinstance(history[-1].detail, dict)
    assert history[-1].detail["guard"] == "max_steps"


async def test_the_default_guard_stops_a_loop_that_sets_none(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "a", "type": "action", "action": "noop", "next": "c"},
        {"id": "c", "type": "condition", "rule": False, "else": "a"},
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id, timeout=60)
    assert ex.state == "failed"
    assert isinstance(ex.error, dict)
    assert ex.error["details"] == {"guard": "max_visits", "limit": 100, "node": "a"}


async def test_timeout_cancels_a_sleeping_execution_on_time(db: Pool, worker: Worker) -> None:
    definition = {
        **flow(
            {"id": "nap", "type": "delay", "duration": "1h"},
            {"id": "after", "type": "action", "action": "noop"},
        ),
        "timeout": "1s",
    }
    started = await run_flow(db, definition)
    ex = await wait_until_ended(db, started.id, timeout=15)
    assert ex.state == "cancelled"
    assert isinstance(ex.error, dict)
    assert ex.error["code"] == "execution_timeout"
    assert ex.started_at is not None
    assert ex.finished_at is not None
    late = (ex.finished_at - ex.started_at).total_seconds()
    assert 1.0 <= late < 3.0
    async with db.acquire() as conn:
        history = await list_history(conn, ex.id)
    last = history[-1]
    assert (last.from_state, last.to_state, last.event) == ("running", "cancelled", "cancel")
    assert isinstance(last.detail, dict)
    assert (last.detail["guard"], last.detail["reason"]) == ("timeout", "timeout")


async def test_timeout_cancels_a_parent_waiting_for_its_child_and_the_child_with_it(db: Pool, worker: Worker) -> None:
    name = f"sleeper-{uuid.uuid4().hex[:8]}"
    await create_workflow(db, flow({"id": "nap", "type": "delay", "duration": "1h"}, name=name))
    parent = await run_flow(db, {**flow({"id": "sub", "type": "shared_flow", "flow": name}), "timeout": "1s"})
    ex = await wait_until_ended(db, parent.id, timeout=15)
    assert ex.state == "cancelled"
    async with db.acquire() as conn:
        child = await conn.fetchrow("SELECT state FROM executions WHERE parent_id = $1", parent.id)
    assert child is not None
    assert child["state"] == "cancelled"


async def test_on_failure_starts_the_alert_flow_once_with_what_failed(db: Pool, worker: Worker) -> None:
    alert = await create_workflow(db, flow({"id": "page", "type": "action", "action": "noop"}, name="pager"))
    definition = {
        **flow({"id": "bad", "type": "transform", "set": {"x": {"rule": {"throw": "boom"}}}}, name="fragile"),
        "on_failure": {"flow": "pager"},
    }
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"who": "ada"})).id)
    assert ex.state == "failed"
    async with db.acquire() as conn:
        rows = await conn.fetch("SELECT id, input, dedupe_key FROM executions WHERE workflow_id = $1", alert.id)
    [row] = rows
    page = await wait_until_ended(db, row["id"])
    assert page.state == "completed"
    got = page.input
    assert (got["execution_id"], got["workflow"], got["node"], got["input"]) == (
        str(ex.id),
        "fragile",
        "bad",
        {"who": "ada"},
    )
    assert got["error"]["message"] == ex.error["message"]


async def test_a_definition_naming_a_missing_alert_flow_is_refused(api: ApiClient) -> None:
    definition = {**flow({"id": "a", "type": "action", "action": "noop"}), "on_failure": {"flow": "no-such-flow"}}
    response = await api.post("/workflows", json=definition)
    assert response.status == 422
    body = await response.json()
    assert body["error"]["details"]["field"] == "/on_failure/flow"


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"max_steps": 0}, "/max_steps"),
        ({"max_steps": -1}, "/max_steps"),
        ({"max_visits": "many"}, "/max_visits"),
        ({"max_visits": 10**12}, "/max_visits"),
        ({"timeout": "0s"}, "/timeout"),
        ({"timeout": "-5s"}, "/timeout"),
        ({"timeout": "forever"}, "/timeout"),
        ({"on_failure": {"flow": ""}}, "/on_failure/flow"),
        ({"on_failure": {"workflow": "x"}}, "/on_failure/flow"),
        ({"on_failure": "pager"}, "/on_failure"),
    ],
)
async def test_hostile_guards_are_422_naming_the_field(api: ApiClient, patch: JSONObject, field: str) -> None:
    response = await api.post("/workflows", json={**flow({"id": "a", "type": "action", "action": "noop"}), **patch})
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field


@pytest.mark.parametrize(
    ("node", "field"),
    [
        ({"on_error": "nowhere"}, "/nodes/0/on_error"),
        ({"on_error": "bad id!"}, "/nodes/0/on_error"),
        ({"type": "transform", "set": {}}, "/nodes/0/set"),
        ({"type": "transform", "set": {"x": {"rule": {"nope_op": [1]}}}}, "/nodes/0/set/x/rule"),
        ({"type": "transform", "set": {"x": "{{ secrets.TOKEN }}"}}, "/nodes/0/set/x"),
        ({"type": "transform", "set": {"x": "{{ unclosed"}}, "/nodes/0/set/x"),
        ({"type": "transform", "set": [1]}, "/nodes/0/set"),
    ],
)
async def test_hostile_nodes_are_422_naming_the_field(api: ApiClient, node: JSONObject, field: str) -> None:
    base: JSONObject = {"id": "a", "type": "action", "action": "noop"}
    if node.get("type") == "transform":
        base = {"id": "a"}
    response = await api.post("/workflows", json=flow({**base, **node}))
    assert response.status == 422
    assert (await response.json())["error"]["details"]["field"] == field
