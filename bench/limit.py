"""Scenario 1, the ceiling: pgbench running step-shaped transactions (one UPDATE, one history INSERT)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from bench.harness import Bench
from bench.seed import noop_chain, workflow

TIME_LIMIT_SECONDS = 60.0
CLIENTS = 8

# What commit_step does to the row and the history, minus the CTE plumbing; ids are md5(n)::uuid of the seed.
_SCRIPT = """\
\\set n random(1, {rows})
BEGIN;
UPDATE executions
SET state = 'running', current_node = 's2', visit = visit + 1, attempt = 1, version = version + 1,
    wake_at = now() + interval '30 seconds',
    step_started_at = now(), updated_at = now()
WHERE id = md5(:n::text)::uuid AND lease_owner = 'bench';
INSERT INTO execution_history (execution_id, from_state, to_state, event, node, attempt, detail)
VALUES (md5(:n::text)::uuid, 'stepCompleted', 'running', 'advance', 's1', 1, '{{"next": "s2"}}');
END;
"""

_SEED = """
INSERT INTO executions (id, workflow_id, workflow_version, state, current_node, visit, attempt, input, wake_at,
                        lease_owner, started_at)
SELECT md5(g::text)::uuid, $1, 1, 'running', 's1', 1, 1, jsonb_build_object('n', g),
       now() + interval '30 seconds', 'bench', now()
FROM generate_series(1, $2) AS g
"""


def pgbench_binary() -> Path:
    """pgbench from the pgserver package, else from PATH."""
    try:
        from pgserver._commands import POSTGRES_BIN_PATH

        return Path(POSTGRES_BIN_PATH) / "pgbench"
    except ImportError:
        found = shutil.which("pgbench")
        if found is None:
            raise FileNotFoundError("pgbench not found: install pgserver or put pgbench on PATH") from None
        return Path(found)


def libpq_args(dsn: str) -> tuple[list[str], str, dict[str, str]]:
    """Split a postgresql:// URL (unix socket or TCP) into connection options, database name and PGPASSWORD."""
    url = urlsplit(dsn)
    query = parse_qs(url.query)
    host = query.get("host", [url.hostname or ""])[0]
    args = ["-U", unquote(url.username or "postgres")]
    if host:
        args += ["-h", host]
    port = query.get("port", [str(url.port or "")])[0]
    if port:
        args += ["-p", port]
    env = {"PGPASSWORD": unquote(url.password)} if url.password else {}
    return args, url.path.lstrip("/") or "postgres", env


async def run(bench: Bench) -> None:
    """Seed running executions, run pgbench against them, record its tps."""
    rows = bench.size(100_000, 10_000)
    seconds = bench.size(15, 5)
    workflow_id = await workflow(bench.pool, noop_chain("bench-limit", 3))
    async with bench.pool.acquire() as conn:
        await conn.execute(_SEED, workflow_id, rows)
        await conn.execute("VACUUM ANALYZE executions")
        await conn.execute("CHECKPOINT")
    script = bench.workdir / "limit-step.sql"
    script.write_text(_SCRIPT.format(rows=rows))
    conn_args, dbname, env = libpq_args(bench.dsn)
    cmd = [
        str(pgbench_binary()),
        *conn_args,
        "-n",
        "-M",
        "prepared",
        "-c",
        str(CLIENTS),
        "-j",
        str(min(CLIENTS, os.cpu_count() or 1)),
        "-T",
        str(seconds),
        "-f",
        str(script),
        dbname,
    ]
    proc = await asyncio.create_subprocess_exec(
        *cmd, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    text = out.decode()
    (bench.workdir / "limit-pgbench.log").write_text(text + err.decode())
    tps = re.search(r"^tps = ([\d.]+)", text, re.MULTILINE)
    if proc.returncode != 0 or tps is None:
        raise RuntimeError(f"pgbench failed ({proc.returncode}): {err.decode().strip()[-500:]}")
    latency = re.search(r"^latency average = ([\d.]+) ms", text, re.MULTILINE)
    bench.note("seeded_rows", rows)
    bench.note("clients", CLIENTS)
    bench.note("seconds", seconds)
    bench.record("limit.tps", float(tps.group(1)), "tx/s")
    if latency:
        bench.record("limit.latency_avg", float(latency.group(1)), "ms")
