"""A worker process loads the team's own actions (the example package under examples/actions) by module name or
entry point, publishes them, and runs them; a module that fails to import stops it."""

from __future__ import annotations

import os
import signal
import tomllib
from pathlib import Path

import pytest

from conveyor.commands.operations import create_workflow, start_execution
from conveyor.errors import DefinitionError
from conveyor.nodes.actions.loading import ENTRY_POINT_GROUP
from conveyor.store import Pool
from conveyor.store.executions import get_execution
from conveyor.store.history import list_steps
from testkit.peers import Reply, WebhookPeer
from testkit.poll import poll_until
from tests.e2e import killable_actions
from tests.e2e.harness import SpawnWorker, stop_worker_process, workers_registered
from tests.integration.conftest import wait_until_ended

_REPOSITORY = str(Path(__file__).resolve().parents[2])
EXAMPLE = Path(_REPOSITORY) / "examples" / "actions"
SOURCE = str(EXAMPLE / "src")


def _example_path() -> str:
    return os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p)


def _installed_entry_point(site: Path) -> str:
    """A directory that looks like an installed example package: its dist-info declares the entry point."""
    info = site / "conveyor_example_actions-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: conveyor-example-actions\nVersion: 0.1.0\n")
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    declared = project["entry-points"][ENTRY_POINT_GROUP]
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{name} = {value}" for name, value in declared.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return os.pathsep.join([str(site), _example_path()])


@pytest.mark.parametrize("loaded_by", ["module", "entry_point"])
async def test_a_worker_runs_the_example_packages_actions_end_to_end(
    db: Pool, spawn_worker: SpawnWorker, tmp_path: Path, loaded_by: str
) -> None:
    token = "crm-token-0123456789"
    async with WebhookPeer() as crm:
        crm.answer(Reply(201, '{"id": "task-7"}'))
        env = {"CONVEYOR_SECRET_CRM_TOKEN": token}
        if loaded_by == "module":
            env |= {"PYTHONPATH": _example_path(), "CONVEYOR_ACTIONS": "example_actions"}
        else:
            env |= {"PYTHONPATH": _installed_entry_point(tmp_path / "site")}
        spawn_worker("own-actions", **env)
        await workers_registered(db, 1)
        workflow = await create_workflow(
            db,
            {
                "name": f"own-{loaded_by}",
                "start": "slug",
                "nodes": [
                    {
                        "id": "slug",
                        "type": "action",
                        "action": "text.slugify",
                        "params": {"text": "{{ input.title }}"},
                        "next": "task",
                    },
                    {
                        "id": "task",
                        "type": "action",
                        "action": "crm.create_task",
                        "params": {"endpoint": crm.url, "title": "Call {{ steps.slug.output.slug }}"},
                    },
                ],
            },
        )
        with pytest.raises(DefinitionError) as caught:
            await create_workflow(
                db,
                {
                    "name": "bad-params",
                    "start": "slug",
                    "nodes": [{"id": "slug", "type": "action", "action": "text.slugify", "params": {"text": 5}}],
                },
            )
        assert caught.value.details["field"] == "/nodes/0/params/text"
        started, _ = await start_execution(db, str(workflow.id), {"title": "Ada Lovelace, Ltd."})
        ex = await wait_until_ended(db, started.id, timeout=30)
        assert ex.state == "completed", ex.error
        async with db.acquire() as conn:
            steps = {s.node: s for s in await list_steps(conn, ex.id)}
        assert steps["slug"].output == {"slug": "ada-lovelace-ltd"}
        assert steps["task"].output == {"task_id": "task-7", "title": "Call ada-lovelace-ltd"}
        [request] = crm.received
        assert request.key == f"{ex.id}:task:2"
        assert request.headers["Authorization"] == f"Bearer {token}"
        assert request.body == {"title": "Call ada-lovelace-ltd", "assignee": None, "due_in_days": 3}


async def test_a_module_that_fails_to_import_stops_the_worker_naming_it(spawn_worker: SpawnWorker) -> None:
    worker = spawn_worker(
        "broken", PYTHONPATH=_example_path(), CONVEYOR_ACTIONS="example_actions,no_such_actions_module"
    )
    assert await worker.wait() == 1
    [failed] = worker.events("startup_failed")
    assert failed["code"] == "action_load_failed"
    assert "no_such_actions_module" in failed["error"]


async def test_steps_of_an_action_run_only_where_it_is_provided_and_wait_for_such_a_worker(
    db: Pool, spawn_worker: SpawnWorker
) -> None:
    # step_committed, which names the node each step ran, is a debug line.
    with_actions = {"PYTHONPATH": _example_path(), "CONVEYOR_ACTIONS": "example_actions", "LOG_LEVEL": "DEBUG"}
    provider = spawn_worker("provider", **with_actions)
    plain = spawn_worker("plain", LOG_LEVEL="DEBUG")
    await workers_registered(db, 2)
    workflow = await create_workflow(
        db,
        {
            "name": "routed",
            "start": "first",
            "nodes": [
                {"id": "first", "type": "action", "action": "noop", "next": "slug"},
                {
                    "id": "slug",
                    "type": "action",
                    "action": "text.slugify",
                    "params": {"text": "{{ input.t }}"},
                    "next": "last",
                },
                {"id": "last", "type": "action", "action": "noop"},
            ],
        },
    )
    started = [(await start_execution(db, str(workflow.id), {"t": f"Item {n}"}))[0].id for n in range(20)]
    for execution_id in started:
        assert (await wait_until_ended(db, execution_id, timeout=30)).state == "completed"
    assert {e["node"] for e in plain.events("step_committed")} <= {"first", "last"}
    assert any(e["node"] == "slug" for e in provider.events("step_committed"))

    await stop_worker_process(provider)
    waiting, _ = await start_execution(db, str(workflow.id), {"t": "Later"})

    async def parked() -> bool:
        async with db.acquire() as conn:
            return (await get_execution(conn, waiting.id)).waiting_for_worker

    await poll_until(parked, "the execution to wait for a worker with text.slugify", 30)
    spawn_worker("provider-again", **with_actions)
    ex = await wait_until_ended(db, waiting.id, timeout=30)
    assert ex.state == "completed"
    assert ex.output == {}


async def test_a_worker_killed_inside_an_action_loses_and_doubles_nothing(db: Pool, spawn_worker: SpawnWorker) -> None:
    async with db.acquire() as conn:
        await conn.execute(killable_actions.CALLS)
        await conn.execute(killable_actions.EFFECTS)
        await conn.execute("TRUNCATE killable_calls, killable_effects")
    env = {"PYTHONPATH": _REPOSITORY, "CONVEYOR_ACTIONS": "tests.e2e.killable_actions"}
    doomed = spawn_worker("doomed", **env)
    await workers_registered(db, 1)
    workflow = await create_workflow(
        db,
        {
            "name": "killed-inside",
            "start": "effect",
            "nodes": [
                {
                    "id": "effect",
                    "type": "action",
                    "action": "chaos.slow_effect",
                    "params": {"seconds": 30},
                    "next": "after",
                },
                {"id": "after", "type": "action", "action": "noop"},
            ],
        },
    )
    started = [(await start_execution(db, str(workflow.id), {"n": n}))[0].id for n in range(10)]

    async def all_inside() -> bool:
        async with db.acquire() as conn:
            return bool(await conn.fetchval("SELECT count(DISTINCT key) FROM killable_calls") == len(started))

    await poll_until(all_inside, "every execution inside its action", 30)
    doomed.signal(signal.SIGKILL)
    assert await doomed.wait() == -signal.SIGKILL
    spawn_worker("survivor", **env)
    for execution_id in started:
        assert (await wait_until_ended(db, execution_id, timeout=120)).state == "completed"
    async with db.acquire() as conn:
        calls = await conn.fetch("SELECT key, count(*) AS n FROM killable_calls GROUP BY key")
        effects = [r["key"] for r in await conn.fetch("SELECT key FROM killable_effects")]
    expected = {f"{execution_id}:effect:1" for execution_id in started}
    assert {r["key"] for r in calls} == expected  # the re-run came under the same key
    assert all(r["n"] == 2 for r in calls)  # killed once, run once more
    assert sorted(effects) == sorted(expected)  # one effect per key
