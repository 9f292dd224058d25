"""pg_ctl on an embedded PostgreSQL (pgserver's) whose data directory we hold: stop, start and restart it."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pgserver

from conveyor.db import embedded_postgres

_PG_CTL = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_ctl"
# pgserver runs the server as this system user when we are root (PostgreSQL refuses root).
_PG_USER = "pgserver" if os.geteuid() == 0 else None


@contextlib.contextmanager
def own_cluster(data_dir: Path) -> Iterator[Cluster]:
    """An embedded PostgreSQL on `data_dir` for the block, stopped afterwards even once pg_ctl has restarted it
    (pgserver stops only the postmaster it started itself, and would leave a restarted one running)."""
    cluster = None
    try:
        with embedded_postgres(data_dir) as url:
            cluster = Cluster(data_dir, url)
            yield cluster
    finally:
        if cluster is not None:  # after pgserver's own stop: fails harmlessly when that one stopped it
            cluster.pg_ctl("-m", "fast", "stop", check=False)


@dataclass(frozen=True, slots=True)
class Cluster:
    """A PostgreSQL started by `embedded_postgres` on `data_dir`, reached at `url`."""

    data_dir: Path
    url: str

    def pg_ctl(self, *args: str, check: bool = True) -> None:
        """Run pg_ctl on the cluster as the user the server runs as, with the options pgserver started it with."""
        [socket_dir] = parse_qs(urlsplit(self.url).query)["host"]
        options = f'-h "" -k {socket_dir}'  # no TCP, the same socket directory: the URL stays valid
        subprocess.run(
            [str(_PG_CTL), "-D", str(self.data_dir), "-w", "-l", str(self.data_dir / "log"), "-o", options, *args],
            check=check,
            user=_PG_USER,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def restart_immediately(self) -> None:
        """`pg_ctl restart -m immediate`: a crash (no checkpoint, every connection cut), then crash recovery."""
        self.pg_ctl("-m", "immediate", "restart")
