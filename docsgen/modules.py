"""The map of the package's modules, from each module's own docstring, so that it cannot drift."""

from __future__ import annotations

import ast
from pathlib import Path

import conveyor

_INTRO = """# Modules

Generated from the first paragraph of each module's docstring, so a module added, moved or removed shows
here at the next build. Imports point one way, down the layers `tests/unit/test_layers.py` writes down (and
fails on an import that points up): `http` → `commands` → `engine` → `nodes`, `triggers` → `services` →
`store` → `statemachines`, `definitions`, `errors`.

| module | what it is for |
| --- | --- |
"""


def module_rows(root: Path | None = None) -> list[tuple[str, str]]:
    """(dotted path, first paragraph of its docstring) of every module of the package, sorted."""
    root = root or Path(conveyor.__file__).parent
    rows = []
    for source in sorted(root.rglob("*.py")):
        doc = ast.get_docstring(ast.parse(source.read_text(encoding="utf-8"))) or ""
        relative = source.relative_to(root.parent).with_suffix("")
        dotted = ".".join(relative.parts).removesuffix(".__init__")
        rows.append((dotted, " ".join(doc.split("\n\n", 1)[0].split())))
    return rows


def modules_page() -> str:
    """The module map as a Markdown table."""
    lines = [f"| `{name}` | {text.replace('|', '/') or '—'} |" for name, text in module_rows()]
    return _INTRO + "\n".join(lines) + "\n"
