"""The user's path, as documented: README's shell blocks run in order against a real `conveyor serve`, and a
newcomer's first hour (a fresh home, their own workflow, a finished execution) with only documented commands."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from conveyor.store import Pool
from testkit.poll import poll_until
from tests.e2e.served import REPOSITORY, page_steps, ready, run_block, serve_line, serving, shell_blocks


async def test_readme_shell_blocks_run_in_order_against_a_real_server(
    database_url: str, db: Pool, tmp_path: Path
) -> None:
    blocks = shell_blocks(REPOSITORY / "README.md")
    assert len(blocks) >= 2, "README.md lost its shell blocks"
    with serving({"DATABASE_URL": database_url}, tmp_path / "serve.log") as served:
        await ready(served)
        outputs = []
        for block in blocks:
            done = run_block(block, served, tmp_path)
            assert done.returncode == 0, (
                f"README block failed:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            )
            outputs.append(done.stdout)
    # The example's promise: the execution completed, and both emails went out to Ada.
    assert "completed" in outputs[-1]
    emails = json.loads(outputs[-1].splitlines()[-1])  # the last command: curl of Ada's emails
    assert sorted(e["template"] for e in emails["items"]) == ["engagement_nudge", "generic_welcome"]


async def test_a_newcomer_goes_from_a_fresh_home_to_a_finished_execution_with_documented_commands(
    tmp_path: Path,
) -> None:
    page = REPOSITORY / "docs" / "getting-started.md"
    blocks = shell_blocks(page, until="## The onboarding demo")
    # A home of its own, so `serve` starts its own embedded PostgreSQL as on a fresh machine (a short path: the
    # server's socket lives there).
    home = Path(tempfile.mkdtemp(prefix="cv-"))
    try:
        with serving({"CONVEYOR_HOME": str(home), "DATABASE_URL": ""}, tmp_path / "serve.log") as served:
            await ready(served, timeout_seconds=120)
            for block in blocks:
                done = run_block(block, served, tmp_path)
                assert done.returncode == 0, (
                    f"documented block failed:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
                )
                if "executions start" in block:
                    assert "completed" in done.stdout
        log = re.sub(r"\x1b\[[0-9;]*m", "", (tmp_path / "serve.log").read_text(errors="replace"))  # no colours
        assert "initdb" not in log, "the embedded server's output belongs in its log file, not on the console"
        assert (home / "postgres.log").read_text().count("initdb") >= 1
        assert f"{served.url}/docs" in log, "start-up names the API's docs"
        assert f"dashboard={served.url}/" in log, "start-up names the dashboard"
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def test_the_signed_webhook_tutorial_starts_its_workflow_once(
    database_url: str, db: Pool, tmp_path: Path
) -> None:
    hello = shell_blocks(REPOSITORY / "README.md")[-1].split("uv run conveyor executions")[0]  # writes and pushes
    tutorial = shell_blocks(REPOSITORY / "docs" / "tutorials" / "signed-webhook.md")
    with serving({"DATABASE_URL": database_url}, tmp_path / "serve.log") as served:
        await ready(served)
        for block in [hello, *tutorial]:
            done = run_block(block, served, tmp_path)
            assert done.returncode == 0, f"block failed:\n{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
        delivery = json.loads(done.stdout)
        assert delivery["duplicate"] is False

        async def started() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM executions WHERE trigger_id IS NOT NULL") == 1)

        await poll_until(started, "the delivery to start its execution")


async def test_the_onboarding_tutorial_takes_a_row_and_an_event_to_a_finished_execution(
    database_url: str, db: Pool, tmp_path: Path
) -> None:
    steps = page_steps(REPOSITORY / "docs" / "tutorials" / "onboarding.md")
    assert any(step.startswith("cat > onboarding.json") for step in steps)
    events = [i for i, step in enumerate(steps) if "events send" in step]
    assert events, "the tutorial no longer sends its event"
    with serving({"DATABASE_URL": database_url}, tmp_path / "serve.log") as served:
        await ready(served)

        async def waiting() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM executions WHERE current_node = 'engaged'") == 1)

        for i, step in enumerate(steps):
            if i == events[0]:
                await poll_until(waiting, "the polled row's execution to wait for its event")
            done = run_block(step, served, tmp_path)
            assert done.returncode == 0, f"step failed:\n{step}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"

        async def completed() -> bool:
            async with db.acquire() as conn:
                return bool(await conn.fetchval("SELECT count(*) FROM executions WHERE state = 'completed'") == 1)

        await poll_until(completed, "Ada's execution to end without the nudge")
    async with db.acquire() as conn:
        templates = await conn.fetch("SELECT template FROM email_logs ORDER BY created_at")
    assert [t["template"] for t in templates] == ["generic_welcome"]


async def test_the_own_action_tutorial_runs_its_action_in_a_step(database_url: str, db: Pool, tmp_path: Path) -> None:
    page = REPOSITORY / "docs" / "tutorials" / "own-action.md"
    steps = page_steps(page)
    env = serve_line(page)
    assert "CONVEYOR_ACTIONS" in env
    for step in steps:  # the module first: the server imports it as it starts
        if step.startswith("cat > ") and ".py" in step.splitlines()[0]:
            subprocess.run(["bash", "-c", step], cwd=tmp_path, check=True)  # noqa: ASYNC221 - writes one file, before the server starts
    with serving({"DATABASE_URL": database_url, **env}, tmp_path / "serve.log", cwd=tmp_path) as served:
        await ready(served)
        outputs = []
        for step in steps:
            done = run_block(step, served, tmp_path)
            assert done.returncode == 0, f"step failed:\n{step}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
            outputs.append(done.stdout)
    assert "completed" in outputs[-1]
    assert "hello-world" in outputs[-1]
