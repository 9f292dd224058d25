"""The CLI reference, from the `conveyor` command's own argument parser."""

from __future__ import annotations

import argparse

from conveyor.cli import parser

_INTRO = """# Command line

`conveyor` runs the service (`serve`, `web`, `worker`, `demo`, `migrate`) and, for operators, calls the
HTTP API at `CONVEYOR_URL` with the API token (see [Configuration](configuration.md)). Every command that
calls the API prints a table on a terminal, or the API's JSON with `--json` (one document, safe to pipe into
`jq` or `head`); an error prints `error: <code>: <message>` and exits 1. This page is generated from the
command's argument parser.
"""


def cli_page() -> str:
    """Every command and sub-command with its usage and options, as Markdown."""
    lines = [_INTRO]
    lines += _command(parser(), "conveyor", 2)
    return "\n".join(lines) + "\n"


def _command(found: argparse.ArgumentParser, name: str, depth: int, summary: str | None = None) -> list[str]:
    lines = [f"\n{'#' * depth} `{name}`\n"]
    text = found.description or summary
    if text:
        lines.append(text[:1].upper() + text[1:] + "\n")
    lines += ["```text", found.format_usage().strip().removeprefix("usage: "), "```", ""]
    options = [a for a in found._actions if a.help and a.help != argparse.SUPPRESS]
    for action in options:
        if isinstance(action, argparse._SubParsersAction):
            continue
        flags = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest.upper()}`"
        lines.append(f"- {flags}: {action.help}")
    for action in found._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in action._choices_actions}
            for sub_name, sub in action.choices.items():
                lines += _command(sub, f"{name} {sub_name}", min(depth + 1, 4), helps.get(sub_name))
    return lines
