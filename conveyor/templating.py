"""Render `{{ … }}` placeholders in a sandbox; user text never reaches Python."""

from __future__ import annotations

import re
from functools import lru_cache

from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue

_SINGLE_PLACEHOLDER = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_HTML_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class TemplateRenderError(PermanentStepError):
    """A template could not be rendered with the execution's context."""

    code = "template_error"


def check_template(text: str) -> str | None:
    """Return the syntax error in a template string, or None when it compiles."""
    try:
        single = _SINGLE_PLACEHOLDER.match(text)
        if single:
            _ENV.compile_expression(single.group("expr"))
        else:
            _ENV.from_string(text)
    except TemplateError as exc:
        return str(exc)
    return None


def template_errors(value: JSONValue, pointer: str = "") -> list[tuple[str, str]]:
    """Find every template string in a JSON value that does not compile, as (pointer, error)."""
    if isinstance(value, str):
        error = check_template(value) if "{" in value else None
        return [(pointer, error)] if error else []
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in template_errors(v, f"{pointer}/{k}")]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in template_errors(v, f"{pointer}/{i}")]
    return []


@lru_cache(maxsize=4096)
def _expression(source: str):  # type: ignore[no-untyped-def]
    return _ENV.compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _template(source: str, html: bool):  # type: ignore[no-untyped-def]
    return (_HTML_ENV if html else _ENV).from_string(source)


def render_string(text: str, context: JSONObject, *, html: bool = False) -> str:
    """Render a template to text (HTML-escaped when `html`)."""
    try:
        return str(_template(text, html).render(context))
    except TemplateError as exc:
        raise TemplateRenderError(f"cannot render {text!r}: {exc}") from exc


def render_value(value: JSONValue, context: JSONObject) -> JSONValue:
    """Render every string in a JSON value; a lone `{{ x }}` keeps x's JSON type."""
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        single = _SINGLE_PLACEHOLDER.match(value)
        if single:
            try:
                result = _expression(single.group("expr"))(**context)
            except TemplateError as exc:
                raise TemplateRenderError(f"cannot render {value!r}: {exc}") from exc
            if isinstance(result, Undefined):
                raise TemplateRenderError(f"cannot render {value!r}: {single.group('expr').strip()} is undefined")
            return result
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value
