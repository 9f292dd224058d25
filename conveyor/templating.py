"""Render `{{ … }}` placeholders in a sandbox; user text never reaches Python."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError

from conveyor.errors import PermanentStepError
from conveyor.filter_costs import KILLABLE_FILTERS
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.render_budget import MAX_SECONDS, budgeted, emitted, json_size
from conveyor.render_process import in_child, run_killable
from conveyor.sandbox import BoundedSandbox

_SINGLE_PLACEHOLDER = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
# What user-written templates can raise besides Jinja's own errors: `{{ 1 / 0 }}`, `{{ 1 + 'a' }}`,
# `{{ 'x'|int(base=99) }}`, a tree Python cannot compile. None of them is a bug of conveyor's.
_TEMPLATE_FAULTS = (
    TemplateError,
    ArithmeticError,
    LookupError,
    TypeError,
    ValueError,
    RecursionError,
    SyntaxError,
    NameError,  # Jinja folds `{{ "nan"|float }}` into code that names `nan`
)

_T = TypeVar("_T")

_ENV = BoundedSandbox(undefined=StrictUndefined, autoescape=False)
_HTML_ENV = BoundedSandbox(undefined=StrictUndefined, autoescape=True)


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
    except RecursionError:
        return TemplateProblem("the template is nested too deeply")
    except _TEMPLATE_FAULTS as exc:
        return TemplateProblem(f"{type(exc).__name__}: {exc}")
    return None


def compiled_template(text: str) -> str:
    """`text` if it compiles as a template; a ValueError naming the problem otherwise (for pydantic validators)."""
    problem = check_template(text)
    if problem:
        raise ValueError(f"invalid template: {problem.message}")
    return text


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
    """Render a template to text (HTML-escaped when `html`), within the sandbox's budget."""
    if _needs_killable(text):
        return _killable(_string_here, (text, context, html), text)
    return _string_here(text, context, html)


def _string_here(text: str, context: JSONObject, html: bool) -> str:
    parts: list[str] = []
    try:
        with budgeted():
            for part in _template(text, html).generate(context):
                emitted(len(part))
                parts.append(part)
    except _TEMPLATE_FAULTS as exc:
        raise TemplateRenderError(f"cannot render {_excerpt(text)}: {_reason(exc)}") from exc
    return "".join(parts)


def _needs_killable(value: JSONValue) -> bool:
    """Whether a value's templates name a filter no bound is proven for (a plain substring test: cheap, and
    wrong only the safe way, since a name written anywhere sends the render to a child)."""
    if isinstance(value, str):
        return not in_child() and any(name in value for name in KILLABLE_FILTERS)
    if isinstance(value, dict):
        return any(_needs_killable(v) for v in value.values())
    if isinstance(value, list):
        return any(_needs_killable(v) for v in value)
    return False


def _killable(render: Callable[..., _T], args: tuple[Any, ...], value: JSONValue) -> _T:
    """Run a render in a child process, killed when the render's time is up."""
    try:
        rendered, result = run_killable(_answer, (render, args), MAX_SECONDS)
    except TimeoutError as exc:
        message = f"cannot render {_excerpt(str(value))}: the template takes longer than {MAX_SECONDS} s to render"
        raise TemplateRenderError(message) from exc
    if not rendered:
        raise TemplateRenderError(str(result))
    return result  # type: ignore[return-value]


def _answer(render: Callable[..., _T], args: tuple[Any, ...]) -> tuple[bool, _T | str]:
    """In a child: the render's result, or the message of the TemplateRenderError it raised."""
    try:
        return True, render(*args)
    except TemplateRenderError as exc:
        return False, exc.message


def _excerpt(text: str) -> str:
    return repr(text if len(text) <= 200 else text[:200] + "…")


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"


def is_templated(value: JSONValue) -> bool:
    """Whether any string in a JSON value is a template."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(is_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(is_templated(v) for v in value)
    return False


def render_value(value: JSONValue, context: JSONObject) -> JSONValue:
    """Render every string in a JSON value under one budget; a lone `{{ x }}` keeps x's JSON type."""
    if _needs_killable(value):
        return _killable(_value_here, (value, context), value)
    return _value_here(value, context)


def _value_here(value: JSONValue, context: JSONObject) -> JSONValue:
    with budgeted():
        return _render_parts(value, context)


def _render_parts(value: JSONValue, context: JSONObject) -> JSONValue:
    if isinstance(value, str):
        if "{{" not in value and "{%" not in value:
            return value
        single = _SINGLE_PLACEHOLDER.match(value)
        if single:
            try:
                result = _expression(single.group("expr"))(**context)
            except _TEMPLATE_FAULTS as exc:
                raise TemplateRenderError(f"cannot render {_excerpt(value)}: {_reason(exc)}") from exc
            if isinstance(result, Undefined):
                raise TemplateRenderError(f"cannot render {value!r}: {single.group('expr').strip()} is undefined")
            try:
                emitted(len(result) if isinstance(result, str) else json_size(result))
            except SecurityError as exc:
                raise TemplateRenderError(f"cannot render {_excerpt(value)}: {exc}") from exc
            try:
                json.dumps(result, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise TemplateRenderError(
                    f"{_excerpt(value)} gave a {type(result).__name__}, not a JSON value"
                ) from exc
            return result
        return _string_here(value, context, False)
    if isinstance(value, dict):
        return {k: _render_parts(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [_render_parts(v, context) for v in value]
    return value
