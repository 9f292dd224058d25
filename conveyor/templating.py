"""Render `{{ … }}` placeholders in a sandbox; user text never reaches Python."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONObject, JSONValue

_SINGLE_PLACEHOLDER = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
_MAX_REPEAT_LENGTH = 100_000
_MAX_EXPONENT = 1_000


class _BoundedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox whose `*` and `**` cannot build huge values (intercepting them also stops
    Jinja from folding constants such as `'a' * 10**9` while compiling)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse repetitions and powers past a sane size, then compute."""
        if operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(times, int)
                    and len(seq) * times > _MAX_REPEAT_LENGTH
                ):
                    raise SecurityError("the repeated value would be too large")
        return super().call_binop(context, operator, left, right)


_ENV = _BoundedSandbox(undefined=StrictUndefined, autoescape=False)
_HTML_ENV = _BoundedSandbox(undefined=StrictUndefined, autoescape=True)


class TemplateRenderError(PermanentStepError):
    """A template could not be rendered with the execution's context."""

    code = "template_error"


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """Why a template does not compile, and on which line when the parser knows."""

    message: str
    line: int | None = None


def check_template(text: str) -> TemplateProblem | None:
    """Return the syntax error in a template string, or None when it compiles."""
    try:
        single = _SINGLE_PLACEHOLDER.match(text)
        if single:
            _ENV.compile_expression(single.group("expr"))
        else:
            _ENV.from_string(text)
    except TemplateSyntaxError as exc:
        return TemplateProblem(exc.message or str(exc), exc.lineno)
    except TemplateError as exc:
        return TemplateProblem(str(exc))
    except (RecursionError, ValueError, OverflowError, MemoryError) as exc:
        return TemplateProblem(f"{type(exc).__name__}: {exc}")
    return None


def template_errors(value: JSONValue, pointer: str = "") -> list[tuple[str, str]]:
    """Find every template string in a JSON value that does not compile, as (pointer, error)."""
    if isinstance(value, str):
        problem = check_template(value) if "{" in value else None
        return [(pointer, problem.message)] if problem else []
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
            try:
                json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TemplateRenderError(f"{value!r} gave {type(result).__name__}, not a JSON value") from exc
            return result
        return render_string(value, context)
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    return value
