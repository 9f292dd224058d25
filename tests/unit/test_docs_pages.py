"""The site's generated reference pages say everything the code declares: each setting, command, route, node
kind and module appears on its page (the strict build in .ci/run checks the links between them)."""

from __future__ import annotations

import argparse

from conveyor.cli import parser
from conveyor.config import Settings
from conveyor.nodes.kinds import KINDS
from conveyor.setting import declared
from docsgen import bench_figures
from docsgen.cli import cli_page
from docsgen.configuration import configuration_page
from docsgen.definitions import definitions_page
from docsgen.http_api import http_api_page, openapi
from docsgen.modules import module_rows, modules_page


def test_every_setting_is_on_the_configuration_page_with_its_default() -> None:
    page = configuration_page()
    for _, found, _ in declared(Settings):
        assert f"| `{found.variable}` | `{found.default_text}` |" in page


def test_every_command_is_on_the_cli_page() -> None:
    page = cli_page()
    [commands] = [a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name in commands.choices:
        assert f"`conveyor {name}`" in page
    assert "`conveyor executions start`" in page


def test_every_operation_of_the_openapi_document_is_on_the_http_page() -> None:
    page = http_api_page()
    for path, methods in openapi()["paths"].items():
        for method in methods:
            assert f"### `{method.upper()} {path}`" in page


def test_every_node_kind_is_on_the_definition_page() -> None:
    page = definitions_page()
    for kind in KINDS:
        assert f"## `{kind.type}`" in page


def test_every_module_is_on_the_module_map() -> None:
    page = modules_page()
    rows = module_rows()
    assert "conveyor.engine.worker" in {name for name, _ in rows}
    for name, _ in rows:
        assert f"| `{name}` |" in page


def test_the_benchmark_plots_are_dated_svg_from_the_baseline_run() -> None:
    run = bench_figures.load()
    plot = bench_figures.throughput_plot(run)
    assert plot.startswith("<svg")
    assert run["started_at"][:10] in plot
    assert "pgbench limit" in plot
