"""The package's layers, written down once: every module's imports point down them, never up.

A unit is a package directly under `conveyor/` (`engine`) or a top-level module (`config`). A unit may import
any unit of a lower layer and the units of its own layer, except that two packages of one layer (`nodes` and
`triggers`) import neither the other: each is one kind of thing, and what both use lives below them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import conveyor

_PACKAGE = Path(conveyor.__file__).parent

LAYERS: tuple[tuple[str, ...], ...] = (
    # entry points and tools: the command line, the demo, the API's client, the history checker, the database
    ("__init__", "cli", "operator_cli", "client", "psql", "demo", "checker", "db"),
    ("http",),  # the API and the dashboard
    ("commands",),  # what an operator or the API asks for: validated, transactional
    ("engine",),  # what a worker runs: claims, runner, group commit, the feed's stages, lease, alarm
    ("nodes", "triggers"),  # one module per kind
    ("services", "vault"),  # what the outside world offers a step or a poll: transports, HTTP, secrets
    ("store",),  # every SQL statement
    # the lifecycle, the definitions, the errors and small pure helpers
    (
        "statemachines",
        "definitions",
        "errors",
        "answers",
        "cancellation",
        "concurrency",
        "condition_groups",
        "config",
        "setting",
        "durations",
        "event_types",
        "failpoints",
        "filter_costs",
        "graph",
        "input_schema",
        "jsonvalue",
        "key_digest",
        "logging",
        "principal",
        "rates",
        "redaction",
        "render_budget",
        "render_process",
        "render_thread",
        "roles",
        "rules",
        "runaway",
        "sandbox",
        "schedule",
        "secret_cipher",
        "secret_references",
        "sendable",
        "templating",
        "validation_messages",
        "wording",
    ),
)
_LAYER_OF = {unit: depth for depth, units in enumerate(LAYERS) for unit in units}
# Nothing that only the API or the operator runs belongs in what a worker runs.
_NOT_IN_THE_WORKER = ("commands", "http", "operator_cli", "cli", "client", "psql")
# Pure: no I/O, so neither driver nor HTTP library.
_PURE = ("statemachines", "definitions", "runaway")
_IO_LIBRARIES = ("asyncpg", "aiohttp")


def _unit(path: Path, root: Path) -> str:
    first = path.relative_to(root).parts[0]
    return first.removesuffix(".py")


def _imported(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Every module the tree imports (TYPE_CHECKING's too), with its line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "conveyor":
                yield from ((node.lineno, f"conveyor.{alias.name}") for alias in node.names)
            else:
                yield node.lineno, node.module


def _imports(root: Path) -> Iterator[tuple[str, str, str]]:
    """(importing unit, imported unit, where) for each import of one unit by another."""
    for path in sorted(root.rglob("*.py")):
        unit = _unit(path, root)
        for line, name in _imported(ast.parse(path.read_text(), filename=str(path))):
            parts = name.split(".")
            if parts[0] == root.name and len(parts) > 1 and parts[1] != unit:
                yield unit, parts[1], f"{path.relative_to(root.parent)}:{line}"


def upward_imports(root: Path) -> list[str]:
    """Each import of a higher layer's unit, or of another package of the same layer."""
    found = []
    for unit, target, where in _imports(root):
        here, there = _LAYER_OF[unit], _LAYER_OF[target]
        packages = (root / unit).is_dir() and (root / target).is_dir()
        if there < here or (there == here and packages):
            found.append(f"{where}: {unit} ({here}) imports {target} ({there})")
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(path, _PACKAGE) for path in _PACKAGE.rglob("*.py")}
    assert units - _LAYER_OF.keys() == set(), "add the new module or package to a layer in LAYERS"
    assert _LAYER_OF.keys() - units == set(), "a unit in LAYERS no longer exists"


def test_imports_point_down_the_layers() -> None:
    found = upward_imports(_PACKAGE)
    assert not found, "an import points up the layers (tests/unit/test_layers.py):\n" + "\n".join(found)


def test_the_worker_engine_imports_nothing_of_the_api() -> None:
    found = [where for unit, target, where in _imports(_PACKAGE) if unit == "engine" and target in _NOT_IN_THE_WORKER]
    assert not found, "engine/ holds only what a worker runs:\n" + "\n".join(found)


def test_the_lifecycle_and_the_definitions_do_no_io() -> None:
    found = [
        f"{path.relative_to(_PACKAGE)}:{line}: {name}"
        for path in sorted(_PACKAGE.rglob("*.py"))
        if _unit(path, _PACKAGE) in _PURE
        for line, name in _imported(ast.parse(path.read_text()))
        if name.split(".")[0] in _IO_LIBRARIES
    ]
    assert not found, "\n".join(found)


def test_the_check_sees_an_import_up_and_one_across(tmp_path: Path) -> None:
    root = tmp_path / "conveyor"
    for package in ("store", "nodes", "triggers"):
        (root / package).mkdir(parents=True)
    (root / "store" / "groups.py").write_text("from conveyor.triggers.coalesce import MAX\n")
    (root / "triggers" / "poll.py").write_text("from conveyor.nodes import services\nfrom conveyor import errors\n")
    (root / "nodes" / "kinds.py").write_text("import conveyor.store.steps\nfrom conveyor.errors import StepError\n")
    found = upward_imports(root)
    assert [hit.split(":")[0] for hit in found] == ["conveyor/store/groups.py", "conveyor/triggers/poll.py"]
