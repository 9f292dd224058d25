"""The template corpus: every hostile template refused or inert, every render bounded and free of Python reprs."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from conveyor.render_budget import MAX_SECONDS, MAX_VALUE_CHARS
from conveyor.templating import TemplateRenderError, check_template, render_string, render_value
from tests.corpus import corpus

CONTEXT: dict[str, Any] = {
    "input": {"x": "{{ 7*7 }}", "tags": ["a", "b"], "big": "a" * 1000, "keys": "data"},
    "steps": {},
    "vars": {},
    "execution": {"id": "e1"},
}
PYTHON_REPR = re.compile(r"<[\w.]+ object|<function|<class |<built-in|<bound method|<generator|0x[0-9a-f]{6,}|jinja2")


def _outcome(render: Any) -> tuple[str, Any]:
    """('refused', message) or ('rendered', value), and the render stays within its time cap."""
    started = time.perf_counter()
    try:
        value = render()
    except TemplateRenderError as exc:
        outcome: tuple[str, Any] = ("refused", exc.message)
    else:
        outcome = ("rendered", value)
    assert time.perf_counter() - started < MAX_SECONDS * 2
    return outcome


@pytest.mark.parametrize("entry", corpus("templates.json", "templates", "note"))
@pytest.mark.parametrize("html", [False, True], ids=["text", "html"])
def test_a_hostile_template_is_refused_or_renders_inert(entry: dict[str, Any], html: bool) -> None:
    template = entry["template"]
    refused_at_definition = check_template(template) is not None
    kind, value = _outcome(lambda: render_string(template, CONTEXT, html=html))
    assert kind == "refused" or len(value) <= MAX_VALUE_CHARS
    assert not PYTHON_REPR.search(str(value))
    if "renders" in entry:
        assert not refused_at_definition
        assert (kind, value) == ("rendered", entry["renders"] if not html else value)
    else:
        assert refused_at_definition or kind == "refused"


@pytest.mark.parametrize("entry", corpus("templates.json", "templates", "note"))
def test_a_hostile_field_value_is_refused_or_a_json_value(entry: dict[str, Any]) -> None:
    kind, value = _outcome(lambda: render_value(entry["template"], CONTEXT))
    assert kind == "refused" or "renders" in entry
    assert not PYTHON_REPR.search(json.dumps(value) if kind == "rendered" else value)
