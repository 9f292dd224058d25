"""MkDocs hooks: add the generated reference pages and plots to the site as it builds.

Nothing generated is committed: each page is rendered from the code at build time, so `mkdocs build --strict`
fails on a broken link to it and it cannot fall behind the code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent.parent))  # the repository root, for `docsgen` itself

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from docsgen import bench_figures
from docsgen.cli import cli_page
from docsgen.configuration import configuration_page
from docsgen.definitions import definitions_page
from docsgen.http_api import http_api_page
from docsgen.modules import modules_page


def _pages() -> dict[str, Callable[[], str]]:
    run = bench_figures.load()
    return {
        "reference/configuration.md": configuration_page,
        "reference/cli.md": cli_page,
        "reference/http-api.md": http_api_page,
        "reference/definition-format.md": definitions_page,
        "explanation/modules.md": modules_page,
        "explanation/bench-figures.md": lambda: "# Benchmark figures\n\n" + bench_figures.figures_table(run),
        "explanation/throughput.svg": lambda: bench_figures.throughput_plot(run),
        "explanation/lateness.svg": lambda: bench_figures.lateness_plot(run),
    }


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """Add each generated page as a file of the site."""
    for uri, render in _pages().items():
        files.append(File.generated(config, uri, content=render()))
    return files
