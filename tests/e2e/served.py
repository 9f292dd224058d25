"""A real `conveyor serve` process for the user's-path tests, and the fenced shell blocks of a Markdown page."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from testkit.poll import poll_until

REPOSITORY = Path(__file__).resolve().parents[2]
# The lines of a page's shell blocks that start what the test starts itself (the service, the test suite).
_STARTS = re.compile(r"^\s*(?:\w+=\S*\s+)*uv run (conveyor (serve|demo)|pytest)\b")
_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Served:
    """A `conveyor serve` on a port of its own: its URL, and the environment a shell next to it would have."""

    url: str
    port: int
    env: dict[str, str]
    log_path: Path


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def conveyor_command() -> list[str]:
    """The `conveyor` script of this environment."""
    script = Path(sys.executable).with_name("conveyor")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "conveyor.cli"]


@contextmanager
def serving(env: dict[str, str], log_path: Path, cwd: Path | None = None) -> Iterator[Served]:
    """Run `conveyor serve` with `env` (in `cwd`) until the block ends (SIGTERM, then SIGKILL)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    shell_env = {**os.environ, **env, "CONVEYOR_URL": url, "UV_PROJECT": str(REPOSITORY), "NO_COLOR": "1"}
    shell_env.pop("CONVEYOR_API_TOKEN", None)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*conveyor_command(), "serve", "--port", str(port)],
            env=shell_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Served(url, port, shell_env, log_path)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def ready(served: Served, timeout_seconds: float = 60.0) -> None:
    """Wait until the server answers its liveness probe."""

    def answers() -> bool:
        with suppress(OSError), urllib.request.urlopen(f"{served.url}/health/live", timeout=2) as answer:
            return bool(answer.status == 200)
        return False

    await poll_until(answers, f"conveyor serve to answer (log: {served.log_path})", timeout_seconds)


_ANY_BLOCK = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```", re.DOTALL | re.MULTILINE)
_FILE_NAMED = re.compile(r"`([\w.-]+\.json)`")
_PYTHON_FILE = re.compile(r"^# ([\w.-]+\.py)\n")


def page_steps(page: Path) -> list[str]:
    """A tutorial's blocks as shell commands, in order: sh as written, sql through `conveyor psql`, a json block
    whose paragraph names a file (`… to `onboarding.json`…`) and a python block whose first line names one
    (`# my_actions.py`) written to that file."""
    text = page.read_text(encoding="utf-8")
    steps, after = [], 0
    for found in _ANY_BLOCK.finditer(text):
        lang, body, before = found["lang"], found["body"], text[after : found.start()]
        after = found.end()
        if lang == "sh":
            steps.append("\n".join(line for line in body.splitlines() if not _STARTS.match(line)))
        elif lang == "sql":
            steps.append(f"uv run conveyor psql -v ON_ERROR_STOP=1 <<'SQL'\n{body}SQL")
        elif lang == "json" and (named := _FILE_NAMED.findall(before)):
            steps.append(f"cat > {named[-1]} <<'JSON'\n{body}JSON")
        elif lang == "python" and (module := _PYTHON_FILE.match(body)):
            steps.append(f"cat > {module[1]} <<'PYTHON'\n{body}PYTHON")
    return steps


def serve_line(page: Path) -> dict[str, str]:
    """The variables a page's `… uv run conveyor serve` line sets (`PYTHONPATH=. CONVEYOR_ACTIONS=…`)."""
    for line in page.read_text(encoding="utf-8").splitlines():
        if _STARTS.match(line) and "conveyor serve" in line:
            return dict(word.split("=", 1) for word in line.split("uv run", 1)[0].split())
    return {}


def shell_blocks(page: Path, until: str | None = None) -> list[str]:
    """The page's ```sh blocks in order (up to the heading `until`), without the lines that start the service."""
    text = page.read_text(encoding="utf-8")
    if until is not None:
        text = text.split(until, 1)[0]
    return ["\n".join(line for line in block.splitlines() if not _STARTS.match(line)) for block in _BLOCK.findall(text)]


def run_block(block: str, served: Served, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run one shell block as a reader would, against `served` (its port in place of the documented 8080)."""
    script = block.replace("localhost:8080", f"localhost:{served.port}").replace(
        "127.0.0.1:8080", f"127.0.0.1:{served.port}"
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=served.env,
        stdin=subprocess.DEVNULL,  # an interactive command (`conveyor psql`) ends at once, as at an empty terminal
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
