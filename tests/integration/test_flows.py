"""Each node kind, run by a real worker against a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.engine.worker import Worker
from conveyor.store import Pool
from conveyor.store.emails import EmailFilter, list_emails
from conveyor.store.history import list_history, list_steps
from tests.integration.conftest import flow, run_flow, wait_for_event, wait_until_ended


async def test_action_chain_completes_with_outputs_threaded_through(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "a", "type": "action", "action": "noop", "params": {"n": "{{ input.n }}"}},
        {
            "id": "b",
            "type": "action",
            "action": "noop",
            "params": {"n": "{{ steps.a.output.n + 1 }}", "s": "x{{ input.n }}"},
        },
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"n": 41})).id)
    assert ex.state == "completed"
    assert ex.output == {"n": 42, "s": "x41"}
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
    assert [s.input for s in steps] == [{"params": {"n": 41}}, {"params": {"n": 42, "s": "x41"}}]


async def test_history_records_every_transition_in_order(db: Pool, worker: Worker) -> None:
    definition = flow({"id": "a", "type": "action", "action": "noop"}, {"id": "b", "type": "action", "action": "noop"})
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    async with db.acquire() as conn:
        history = await list_history(conn, ex.id)
    assert [(h.from_state, h.to_state, h.event) for h in history] == [
        ("idle", "running", "start"),
        ("running", "stepCompleted", "step_ok"),
        ("stepCompleted", "running", "advance"),
        ("running", "stepCompleted", "step_ok"),
        ("stepCompleted", "completed", "finish"),
    ]


async def test_delay_waits_as_a_row_then_resumes_on_time(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "wait", "type": "delay", "duration": "1s"},
        {"id": "after", "type": "action", "action": "noop"},
    )
    started = await run_flow(db, definition)
    await wait_for_event(db, started.id, "sleep")
    async with db.acquire() as conn:
        mid = await conn.fetchrow(
            "SELECT state, lease_owner, extract(epoch FROM wake_at - step_started_at)::float8 AS due_in"
            " FROM executions WHERE id = $1",
            started.id,
        )
    assert mid is not None
    # A sleep this short is held by its worker: the row says when any other worker may take it (1 s late).
    assert (mid["state"], mid["lease_owner"]) == ("delayed", worker.id)
    assert mid["due_in"] == pytest.approx(2.0)
    ex = await wait_until_ended(db, started.id)
    async with db.acquire() as conn:
        history = await list_history(conn, ex.id)
    slept = next(h for h in history if h.event == "sleep")
    woke = next(h for h in history if h.event == "wake")
    assert timedelta(seconds=1) <= woke.at - slept.at < timedelta(seconds=1.5)
    assert ex.state == "completed"


async def test_delay_until_a_templated_timestamp(db: Pool, worker: Worker) -> None:
    until = (datetime.now(UTC) + timedelta(milliseconds=700)).isoformat()
    definition = flow(
        {"id": "wait", "type": "delay", "until": "{{ input.at }}"}, {"id": "end", "type": "action", "action": "noop"}
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"at": until})).id)
    assert ex.state == "completed"
    assert ex.finished_at is not None
    assert ex.finished_at >= datetime.fromisoformat(until)


async def test_condition_takes_then_or_else_by_json_logic(db: Pool, worker: Worker) -> None:
    definition = flow(
        {
            "id": "check",
            "type": "condition",
            "rule": {">": [{"var": "input.score"}, 10]},
            "then": "high",
            "else": "low",
        },
        {"id": "high", "type": "action", "action": "noop", "params": {"branch": "high"}},
        {"id": "low", "type": "action", "action": "noop", "params": {"branch": "low"}},
    )
    definition["nodes"][1].pop("next")
    workflow = await create_workflow(db, definition)
    high, _ = await start_execution(db, str(workflow.id), {"score": 11})
    low, _ = await start_execution(db, str(workflow.id), {"score": 3})
    assert (await wait_until_ended(db, high.id)).output == {"branch": "high"}
    assert (await wait_until_ended(db, low.id)).output == {"branch": "low"}


async def test_condition_with_null_branch_ends_the_flow(db: Pool, worker: Worker) -> None:
    definition = flow(
        {"id": "check", "type": "condition", "rule": {"==": [1, 2]}, "then": "x", "else": None},
        {"id": "x", "type": "action", "action": "noop"},
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition)).id)
    assert ex.state == "completed"
    assert ex.output == {"result": False}


async def test_send_email_logs_one_row_rendered_from_the_template(db: Pool, worker: Worker) -> None:
    definition = flow(
        {
            "id": "welcome",
            "type": "action",
            "action": "send_email",
            "params": {"to": "{{ input.email }}", "template": "podcast_welcome"},
        }
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"email": "ada@example.com", "name": "Ada"})).id)
    async with db.acquire() as conn:
        emails = await list_emails(conn, EmailFilter(execution_id=ex.id), None, 10)
        body = await conn.fetchval("SELECT text_body FROM email_logs WHERE execution_id = $1", ex.id)
    assert [(e.recipient, e.template, e.status, e.node) for e in emails] == [
        ("ada@example.com", "podcast_welcome", "logged", "welcome")
    ]
    assert body.startswith("Hi Ada,")


async def test_missing_template_fails_the_execution_without_retry(db: Pool, worker: Worker) -> None:
    definition = flow(
        {
            "id": "mail",
            "type": "action",
            "action": "send_email",
            "params": {"to": "a@example.com", "template": "{{ input.template }}"},
            "retry": {"max_attempts": 3},
        }
    )
    ex = await wait_until_ended(db, (await run_flow(db, definition, {"template": "nope"})).id)
    assert ex.state == "failed"
    assert "nope" in ex.error["message"]
    async with db.acquire() as conn:
        steps = await list_steps(conn, ex.id)
    assert [s.attempt for s in steps] == [1]


async def test_shared_flow_runs_a_child_and_takes_its_output(db: Pool, worker: Worker) -> None:
    await create_workflow(
        db,
        flow(
            {"id": "inner", "type": "action", "action": "noop", "params": {"doubled": "{{ input.n * 2 }}"}},
            name="doubler",
        ),
    )
    definition = flow(
        {"id": "sub", "type": "shared_flow", "flow": "doubler", "input": {"n": "{{ input.n }}"}},
        {"id": "after", "type": "action", "action": "noop", "params": {"got": "{{ steps.sub.output.doubled }}"}},
    )
    parent = await wait_until_ended(db, (await run_flow(db, definition, {"n": 21})).id)
    assert parent.state == "completed"
    assert parent.output == {"got": 42}
    async with db.acquire() as conn:
        child = await conn.fetchrow("SELECT id, state FROM executions WHERE parent_id = $1", parent.id)
        assert child is not None
        child_history = await list_history(conn, child["id"])
        steps = await list_steps(conn, parent.id)
    assert child["state"] == "completed"
    assert child_history[0].event == "start"
    assert [(s.node, s.status) for s in steps] == [("sub", "completed"), ("after", "completed")]


async def test_shared_flow_fails_when_its_child_fails(db: Pool, worker: Worker) -> None:
    await create_workflow(
        db,
        flow(
            {
                "id": "bad",
                "type": "action",
                "action": "send_email",
                "params": {"to": "not-an-address", "template": "generic_welcome"},
            },
            name="broken-child",
        ),
    )
    parent = await wait_until_ended(
        db, (await run_flow(db, flow({"id": "sub", "type": "shared_flow", "flow": "broken-child"}))).id
    )
    assert parent.state == "failed"
    assert "broken-child" in parent.error["message"]


async def test_shared_flow_passes_the_parents_input_as_data_not_as_a_template(db: Pool, worker: Worker) -> None:
    await create_workflow(
        db,
        flow({"id": "echo", "type": "action", "action": "noop", "params": {"note": "{{ input.note }}"}}, name="echo"),
    )
    parent = await run_flow(db, flow({"id": "sub", "type": "shared_flow", "flow": "echo"}), {"note": "{{ 6 * 7 }}"})
    assert (await wait_until_ended(db, parent.id)).output == {"note": "{{ 6 * 7 }}"}
