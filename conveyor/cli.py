"""The `conveyor` command: serve | web | worker | migrate | demo, and the operator commands over the API.

Each command imports what it runs when it runs: a `conveyor worker` restarted under load must not spend a
second of CPU loading the HTTP app, the demo and the API client before it claims anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import ipaddress
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from importlib.metadata import version
from typing import TYPE_CHECKING

import structlog

from conveyor.config import Settings
from conveyor.db import connect, create_pool, embedded_postgres
from conveyor.errors import ConveyorError
from conveyor.logging import configure_logging
from conveyor.operator_cli import API_COMMANDS, add_commands, run_command
from conveyor.store import connection
from conveyor.store.migrations import plan
from conveyor.store.schema import apply_schema

if TYPE_CHECKING:
    from conveyor.store import Pool

log = structlog.get_logger(__name__)


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """DATABASE_URL, or an embedded server under CONVEYOR_HOME for the block."""
    if settings.database_url:
        yield settings.database_url
        return
    with embedded_postgres(settings.home / "pgdata") as url:
        yield url


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def warn_if_open(host: str, settings: Settings) -> None:
    """Warn when the API listens beyond loopback and no CONVEYOR_API_TOKEN guards it."""
    if settings.api_token or host == "localhost":
        return
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return
    log.warning(
        "api_open_without_token",
        host=host,
        hint="anyone who can reach this address can run workflows; set CONVEYOR_API_TOKEN or listen on 127.0.0.1",
    )


@contextlib.asynccontextmanager
async def _web(pool: Pool, settings: Settings, host: str, port: int) -> AsyncIterator[None]:
    from conveyor.http.app import create_app
    from conveyor.http.gate import listening

    async with listening(create_app(pool, settings), settings, host, port):
        base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        log.info("api_listening", dashboard=f"{base}/", api_docs=f"{base}/docs", health=f"{base}/health")
        warn_if_open(host, settings)
        yield


@contextlib.asynccontextmanager
async def _probe(pool: Pool, settings: Settings) -> AsyncIterator[None]:
    from conveyor.http.gate import listening
    from conveyor.http.probe import probe_app

    host, port = settings.worker_host, settings.worker_port or 0
    async with listening(probe_app(pool, settings), settings, host, port):
        log.info(
            "worker_probe_listening", metrics=f"http://{host}:{port}/metrics", health=f"http://{host}:{port}/health"
        )
        yield


async def _run(
    settings: Settings,
    dsn: str,
    *,
    api: tuple[str, int] | None,
    work: bool,
    also: Callable[[Pool], Coroutine[object, object, None]] | None = None,
) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with (
        connect(dsn, migrate=settings.migrate_on_start, max_size=settings.db_pool_size) as pool,
        contextlib.AsyncExitStack() as stack,
    ):
        if api is not None:
            await stack.enter_async_context(_web(pool, settings, *api))
        elif work and settings.worker_port is not None:
            await stack.enter_async_context(_probe(pool, settings))
        if not work:
            await stop.wait()
            return
        from conveyor.engine.runtime import worker as make_worker

        worker = await stack.enter_async_context(make_worker(pool, dsn, settings))
        task = asyncio.create_task(worker.run())
        side = asyncio.create_task(also(pool)) if also else None
        await asyncio.wait([task, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        if side is not None:
            side.cancel()
            await asyncio.gather(side, return_exceptions=True)
        worker.stop()
        await task


async def _migrate(dsn: str, *, dry_run: bool) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        if not dry_run:
            await apply_schema(pool)
            log.info("schema_at_head")
            return
        async with connection(pool) as conn:
            for step in await plan(conn):
                print(f"-- {step.title}\n{step.sql.rstrip()}\n")
    finally:
        await pool.close()


def _demo(rows: int, seconds: float) -> Callable[[Pool], Coroutine[object, object, None]]:
    from conveyor import demo

    return functools.partial(demo.run, rows=rows, over_seconds=seconds)


def _actions_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--actions",
        type=lambda text: [m.strip() for m in text.split(",") if m.strip()],
        default=[],
        help="comma-separated modules of your own actions to load (besides CONVEYOR_ACTIONS and entry points)",
    )


def _load_actions(modules: list[str]) -> None:
    from conveyor.nodes.actions.loading import load_actions

    loaded = load_actions(modules)
    if loaded:
        log.info("actions_loaded", modules=loaded)


def parser() -> argparse.ArgumentParser:
    """The `conveyor` command's arguments: the service's commands, then the operator commands over the API."""
    found = argparse.ArgumentParser(prog="conveyor", description="A durable workflow runtime on PostgreSQL.")
    found.add_argument("--version", action="version", version=f"conveyor {version('conveyor')}")
    commands = found.add_subparsers(dest="command", required=True)
    for name, text in (
        ("serve", "API, worker and poller in one process"),
        ("web", "the HTTP API only"),
        ("demo", "serve, plus the onboarding use case: tables, workflows, poll triggers and new rows"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1)")
        sub.add_argument("--port", type=int, default=8080, help="the port to listen on (default 8080)")
        if name == "demo":
            sub.add_argument("--rows", type=int, default=20, help="rows the demo inserts")
            sub.add_argument("--seconds", type=float, default=60.0, help="over how long it inserts them")
        if name != "web":
            _actions_argument(sub)
    _actions_argument(commands.add_parser("worker", help="a worker only: claims and runs executions"))
    migrate = commands.add_parser("migrate", help="apply the migrations the database lacks, and exit")
    migrate.add_argument("--dry-run", action="store_true", help="print their SQL instead; nothing when at head")
    psql = commands.add_parser("psql", help="open psql on the database (DATABASE_URL, or the embedded one)")
    psql.add_argument("psql_args", nargs=argparse.REMAINDER, help="passed on to psql, e.g. -c 'SELECT 1'")
    add_commands(commands)
    return found


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["psql"] and not {"-h", "--help"} & set(argv[1:2]):
        # Everything after `psql` is psql's, options included, which argparse would take for its own.
        from conveyor.psql import open_psql

        raise SystemExit(open_psql(Settings.from_env(), argv[1:]))
    args = parser().parse_args(argv)
    if args.command in API_COMMANDS:
        raise SystemExit(run_command(args))

    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    try:
        if args.command in ("serve", "worker", "demo"):
            _load_actions([*settings.action_modules, *args.actions])
        with database_url(settings) as dsn:
            if args.command == "migrate":
                asyncio.run(_migrate(dsn, dry_run=args.dry_run))
            else:
                api = (args.host, args.port) if args.command in ("serve", "web", "demo") else None
                also = _demo(args.rows, args.seconds) if args.command == "demo" else None
                asyncio.run(_run(settings, dsn, api=api, work=args.command != "web", also=also))
    except ConveyorError as exc:
        log.error("startup_failed", code=exc.code, error=exc.message)
        raise SystemExit(1) from exc
    except OSError as exc:  # a port already taken, a home directory we may not write
        log.error("startup_failed", code="os_error", error=str(exc))
        raise SystemExit(1) from exc
