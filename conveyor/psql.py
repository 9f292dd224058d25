"""`conveyor psql`: psql on the database conveyor uses, DATABASE_URL or the embedded server under CONVEYOR_HOME."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conveyor.config import Settings
from conveyor.db import embedded_binary, embedded_postgres


def psql_binary() -> str | None:
    """The psql that ships with the embedded server's package, else the one on PATH."""
    bundled = embedded_binary("psql")
    return str(bundled) if bundled is not None else shutil.which("psql")


def open_psql(settings: Settings, arguments: list[str]) -> int:
    """Run psql on the database, with the terminal; its exit status."""
    binary = psql_binary()
    if binary is None:
        print("error: no psql: install PostgreSQL's client (apt-get install postgresql-client)", file=sys.stderr)
        return 1
    if settings.database_url:
        return _run(binary, settings.database_url, arguments)
    # The embedded server is shared: if `conveyor serve` runs, psql joins it, and it stays up when psql exits.
    with embedded_postgres(settings.home / "pgdata") as url:
        return _run(binary, url, arguments)


def _run(binary: str, url: str, arguments: list[str]) -> int:
    return subprocess.run([binary, url, *arguments], check=False).returncode  # noqa: S603 - the user's own psql
