"""One SQL style: every statement in the package names its parameters (`:name`, through `Statement`)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import conveyor

_PACKAGE = Path(conveyor.__file__).parent
# asyncpg's positional placeholder; only `Statement` writes it, from the names.
_POSITIONAL = re.compile(r"\$\d")
_EXEMPT = {_PACKAGE / "store" / "statement.py"}


def _docstrings(tree: ast.Module) -> set[int]:
    """The ids of the docstring nodes of the module, its classes and its functions."""
    owners = [
        tree,
        *(n for n in ast.walk(tree) if isinstance(n, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)),
    ]
    found = set()
    for owner in owners:
        first = owner.body[0] if owner.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def _positional_strings(path: Path) -> list[str]:
    """Where the module's string literals (f-string parts included, docstrings aside) hold `$<digit>`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    hits = [
        f"{path}:{node.lineno}: {node.value.strip()[:80]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and _POSITIONAL.search(node.value)
    ]
    # `f"${n}"`: a placeholder whose number is computed.
    hits += [
        f"{path}:{node.lineno}: a `$` before a formatted value"
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part, following in zip(node.values, node.values[1:], strict=False)
        if isinstance(part, ast.Constant)
        and str(part.value).endswith("$")
        and isinstance(following, ast.FormattedValue)
    ]
    return hits


def test_no_statement_uses_positional_placeholders() -> None:
    found = [hit for path in sorted(_PACKAGE.rglob("*.py")) if path not in _EXEMPT for hit in _positional_strings(path)]
    assert not found, "write `:name` through conveyor.store.statement.Statement, not `$n`:\n" + "\n".join(found)


def test_the_check_sees_a_positional_placeholder(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text(
        '"""Doc with $1."""\n_A = "SELECT 1"\n_B = f"SELECT {_A} WHERE id = $1"\n_C = f"SELECT ${1 + 1}"\n'
    )
    hits = _positional_strings(module)
    assert [hit.split(":")[1] for hit in hits] == ["3", "4"]
