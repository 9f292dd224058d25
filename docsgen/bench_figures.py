"""The performance page's figures and plots, from a bench run's JSON (`python -m bench --output`), dated."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

BASELINE = Path(__file__).parent.parent / "bench" / "baseline.json"

_BAR_HEIGHT = 26
_LABEL_WIDTH = 250
_PLOT_WIDTH = 420


def load(path: Path = BASELINE) -> dict[str, Any]:
    """A bench run's JSON."""
    run: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return run


def figures(run: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Each figure's value and unit, by name."""
    return {f["name"]: (float(f["value"]), f["unit"]) for f in run["figures"]}


def figures_table(run: dict[str, Any]) -> str:
    """Every figure of the run, with its date and machine, and every target with whether it was met."""
    env = run["environment"]
    postgres = env.get("postgres", {})
    head = (
        f"Run of {run['started_at'][:10]} ({run['wall_seconds']:.0f} s; {env['cpus']} CPUs, Python {env['python']}, "
        f"PostgreSQL {postgres.get('server_version', '?')} with fsync {postgres.get('fsync', '?')})."
    )
    lines = [head, "", "| figure | value | unit |", "| --- | ---: | --- |"]
    lines += [f"| `{name}` | {value:,.3g} | {unit} |" for name, (value, unit) in figures(run).items()]
    lines += ["", "| target | value | bound | met |", "| --- | ---: | --- | --- |"]
    lines += [
        f"| {t['target']} | {t['value']:,.3g} | `{t['bound']}` | {'yes' if t['pass'] else '**no**'} |"
        for t in run["targets"]
    ]
    return "\n".join(lines) + "\n"


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str) -> str:
    """A horizontal bar chart as a standalone SVG, no script and no network."""
    top = max((value for _, value in bars), default=1.0) or 1.0
    height = 40 + _BAR_HEIGHT * len(bars)
    width = _LABEL_WIDTH + _PLOT_WIDTH + 90
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<text x="4" y="18" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = 30 + i * _BAR_HEIGHT
        length = _PLOT_WIDTH * value / top
        parts += [
            f'<text x="4" y="{y + 16}">{escape(label)}</text>',
            f'<rect x="{_LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{_BAR_HEIGHT - 8}" fill="#3f6fb5"/>',
            f'<text x="{_LABEL_WIDTH + length + 6:.1f}" y="{y + 16}">{value:,.4g} {escape(unit)}</text>',
        ]
    return "\n".join([*parts, "</svg>"]) + "\n"


def throughput_plot(run: dict[str, Any]) -> str:
    """Steps a second, one and two workers, against pgbench's limit of a step-shaped transaction."""
    found = figures(run)
    bars = [("pgbench limit (tx/s)", found["limit.tps"][0])]
    bars += [
        (f"steps/s, {n} worker{'s' if n > 1 else ''}", found[f"throughput.{n}w.steps_per_s"][0])
        for n in (1, 2)
        if f"throughput.{n}w.steps_per_s" in found
    ]
    return bar_chart(f"Throughput against the pgbench limit ({run['started_at'][:10]})", bars, "/s")


def lateness_plot(run: dict[str, Any]) -> str:
    """How late delays run: 1,000 at once (the burst), and 1,000 due within one second (the spread)."""
    found = figures(run)
    names = [
        ("burst p50", "delay.lateness_p50"),
        ("burst p99", "delay.lateness_p99"),
        ("spread p50", "delay.spread.lateness_p50"),
        ("spread p99", "delay.spread.lateness_p99"),
        ("lone step to step p99", "lone.step_to_step_p99"),
    ]
    bars = [(label, found[name][0]) for label, name in names if name in found]
    return bar_chart(f"Delay lateness ({run['started_at'][:10]})", bars, "ms")
