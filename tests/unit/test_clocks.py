"""The database's now() decides leases and due times: no Python clock is read in the store or the claim path."""

from __future__ import annotations

import ast
from pathlib import Path

import conveyor

_PACKAGE = Path(conveyor.__file__).resolve().parent
# Every module whose statements or arguments decide whether a lease runs or a wake-up is due.
_DECIDING = sorted(
    [
        *(_PACKAGE / "store").glob("*.py"),
        *(_PACKAGE / "engine" / name for name in ("claim.py", "lease.py", "recovery.py", "outcome.py", "runner.py")),
    ]
)
# Clocks by the attribute that reads them: time.time(), datetime.now(), loop.time(), date.today(), ...
# (perf_counter is left out: the runner times steps with it for a metric, never against a lease.)
_CLOCKS = {"time", "time_ns", "now", "utcnow", "today", "monotonic", "monotonic_ns"}


def _clock_reads(source: str) -> list[str]:
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _CLOCKS:
            reads.append(f"line {node.lineno}: {ast.unparse(node.func)}()")
    return reads


def test_no_python_clock_is_read_where_leases_and_due_times_are_decided() -> None:
    assert len(_DECIDING) > 20
    reads = {str(path.relative_to(_PACKAGE)): _clock_reads(path.read_text()) for path in _DECIDING}
    assert {name: found for name, found in reads.items() if found} == {}


def test_the_lint_sees_a_clock_read() -> None:
    source = (_PACKAGE / "store" / "claims.py").read_text()
    planted = source + "\n\ndef _due() -> float:\n    return time.time() + loop.time()\n"
    assert [r.split(": ")[1] for r in _clock_reads(planted)] == ["time.time()", "loop.time()"]
