"""The configuration reference, from the one declaration of each setting in conveyor/config.py."""

from __future__ import annotations

from itertools import groupby

from conveyor.config import Settings
from conveyor.setting import declared

_INTRO = """# Configuration

Every setting is an environment variable, read once at start. This page is generated from the settings'
declaration in `conveyor/config.py` (variable, default, parser and text are written there once), so it
cannot disagree with the code. A value that does not parse stops the process with a message naming its
variable. Secrets are never logged, nor shown in a settings `repr`.

Besides these, `CONVEYOR_FAILPOINTS` injects faults for tests and chaos runs (see
[Durability](../explanation/durability.md)); never set it in production.
"""


def configuration_page() -> str:
    """The configuration reference as Markdown, one table per section."""
    lines = [_INTRO]
    rows = declared(Settings)
    sections = [s for s, _ in groupby(rows, key=lambda row: row[1].section)]
    for section in dict.fromkeys(sections):
        lines += [f"\n## {section}\n", "| variable | default | accepts | meaning |", "| --- | --- | --- | --- |"]
        for _, found, _ in (row for row in rows if row[1].section == section):
            accepts = " ".join((found.parse.__doc__ or "").split())
            secret = " Secret: never logged." if found.secret else ""
            lines.append(f"| `{found.variable}` | `{found.default_text}` | {accepts} | {found.doc}{secret} |")
    return "\n".join(lines) + "\n"
