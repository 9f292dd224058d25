"""`python -m bench [scenario ...] [--quick] [--output PATH]`: run the suite, print figures, write JSON."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import (
    actions,
    api,
    chaos,
    compare,
    dashboard,
    delay,
    flow,
    limit,
    lone,
    retention,
    scale,
    targets,
    throughput,
    trigger,
    wait,
)
from bench.cluster import Cluster, own_cluster
from bench.harness import Bench, ChaosOptions, truncate
from conveyor.db import connect
from conveyor.logging import configure_logging


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario's entry point and the time it may take."""

    run: Callable[[Bench], Awaitable[None]]
    time_limit_seconds: float


SCENARIOS: dict[str, Scenario] = {
    "limit": Scenario(limit.run, limit.TIME_LIMIT_SECONDS),
    "throughput": Scenario(throughput.run, throughput.TIME_LIMIT_SECONDS),
    "actions": Scenario(actions.run, actions.TIME_LIMIT_SECONDS),
    "lone": Scenario(lone.run, lone.TIME_LIMIT_SECONDS),
    "delay": Scenario(delay.run, delay.TIME_LIMIT_SECONDS),
    "api": Scenario(api.run, api.TIME_LIMIT_SECONDS),
    "scale": Scenario(scale.run, scale.TIME_LIMIT_SECONDS),
    "dashboard": Scenario(dashboard.run, dashboard.TIME_LIMIT_SECONDS),
    "trigger": Scenario(trigger.run, trigger.TIME_LIMIT_SECONDS),
    "wait": Scenario(wait.run, wait.TIME_LIMIT_SECONDS),
    "flow": Scenario(flow.run, flow.TIME_LIMIT_SECONDS),
    "chaos": Scenario(chaos.run, chaos.TIME_LIMIT_SECONDS),
    "retention": Scenario(retention.run, retention.TIME_LIMIT_SECONDS),
}
# Run only when named: minutes of killing workers, or of deleting a million executions, is a proof, not a benchmark.
OPT_IN = frozenset({"chaos", "retention"})
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
_SETTINGS = ("server_version", "max_connections", "shared_buffers", "fsync", "synchronous_commit", "wal_level")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"which to run, in suite order (default: all but {', '.join(sorted(OPT_IN))})",
    )
    parser.add_argument("--quick", action="store_true", help="shrink counts and durations for a smoke run")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write the JSON results")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL of spawned conveyor processes")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="BASELINE.json",
        help="print each figure beside this earlier run's (rates per pgbench tx/s), marking drops past 20 %%",
    )
    parser.add_argument(
        "--refresh-baseline",
        action="store_true",
        help=f"also write the run to {compare.BASELINE.name} ({compare.QUICK_BASELINE.name} under --quick)",
    )
    chaos_options = parser.add_argument_group("chaos")
    chaos_options.add_argument("--rounds", type=int, help="rounds (default 10, 1 under --quick)")
    chaos_options.add_argument(
        "--pg-restarts", type=int, default=0, help="restart PostgreSQL (immediate) this many times a round"
    )
    chaos_options.add_argument(
        "--ambiguous-commits",
        action="store_true",
        help="5 %% of step commits fail on a dropped connection, 5 %% commit and then drop it",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    args.scenarios = [name for name in SCENARIOS if name in args.scenarios] or [
        name for name in SCENARIOS if name not in OPT_IN
    ]
    return args


@contextlib.contextmanager
def database() -> Iterator[tuple[str, Cluster | None]]:
    """DATABASE_URL (its conveyor tables get truncated!), else a throwaway embedded server we may restart."""
    if os.environ.get("DATABASE_URL"):
        print("# using DATABASE_URL: the benchmark truncates conveyor's tables there", file=sys.stderr)
        yield os.environ["DATABASE_URL"], None
        return
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as home, own_cluster(Path(home) / "pg") as cluster:
        yield cluster.url, cluster


async def run_scenario(bench: Bench, name: str) -> str | None:
    """Run one scenario within its time limit, on emptied tables; the error text if it failed."""
    scenario = SCENARIOS[name]
    bench.scenario = name
    started = time.monotonic()
    error = None
    await truncate(bench.pool)
    try:
        await asyncio.wait_for(scenario.run(bench), timeout=scenario.time_limit_seconds)
    except TimeoutError:
        error = f"timed out after {scenario.time_limit_seconds:.0f} s"
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await truncate(bench.pool)
    bench.note("seconds", round(time.monotonic() - started, 2))
    if error:
        print(f"# scenario {name} FAILED: {error}", flush=True)
    return error


async def run_suite(args: argparse.Namespace, dsn: str, cluster: Cluster | None, workdir: Path) -> dict[str, object]:
    """Every selected scenario, then the targets; the JSON document."""
    started_at, started = datetime.now(UTC), time.monotonic()
    async with connect(dsn, max_size=10) as pool:
        async with pool.acquire() as conn:
            server = {s: await conn.fetchval(f"SHOW {s}") for s in _SETTINGS}
        chaos = ChaosOptions(args.rounds, args.pg_restarts, args.ambiguous_commits)
        bench = Bench(
            dsn=dsn,
            pool=pool,
            quick=args.quick,
            workdir=workdir,
            log_level=args.log_level,
            chaos=chaos,
            cluster=cluster,
        )
        errors = {name: error for name in args.scenarios if (error := await run_scenario(bench, name))}
    verdicts = targets.evaluate(bench)
    wall = time.monotonic() - started
    print(f"# suite wall time {wall:.1f} s", flush=True)
    return {
        "started_at": started_at.isoformat(),
        "wall_seconds": round(wall, 2),
        "quick": args.quick,
        "scenarios": args.scenarios,
        "errors": errors,
        "environment": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "spawned_log_level": args.log_level,
            "postgres": server,
        },
        "figures": bench.as_json(),
        "targets": verdicts,
        "notes": bench.notes,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the suite; exit status 1 when a scenario failed."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    configure_logging("console", "WARNING")  # conveyor's own log lines must not mix with the figures
    workdir = args.output.resolve().parent / "logs"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    with database() as (dsn, cluster):
        document = asyncio.run(run_suite(args, dsn, cluster, workdir))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"# wrote {args.output}", flush=True)
    if args.compare:
        compare.report(compare.load(args.output), args.compare)
    if args.refresh_baseline:
        baseline = compare.QUICK_BASELINE if args.quick else compare.BASELINE
        baseline.write_text(args.output.read_text())
        print(f"# wrote {baseline}", flush=True)
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
