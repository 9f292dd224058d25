"""Render `{{ … }}` placeholders in a sandbox; user text never reaches Python."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, Undefined, UndefinedError, nodes
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

    def in_node(self, node_id: str) -> TemplateRenderError:
        """The same error, naming the node whose template it is."""
        return TemplateRenderError(f"{self.message} in node {node_id}")


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
        raise TemplateRenderError(f"cannot render {_excerpt(text)}: {_reason(exc, text, context)}") from exc
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


def _reason(exc: BaseException, source: str, context: JSONObject) -> str:
    if isinstance(exc, UndefinedError):
        missing = _missing_name(source, context)
        if missing is not None:
            return f"{missing} is not defined"
    return str(exc) if isinstance(exc, TemplateError) else f"{type(exc).__name__}: {exc}"


def _missing_name(source: str, context: JSONObject) -> str | None:
    """The first name the template reads that the context lacks, written as in the template (`input.name`):
    Jinja's own message only knows the last step (`'dict object' has no attribute 'name'`)."""
    try:
        tree = _ENV.parse(source)
    except TemplateError:
        return None
    local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        path = _path(node)
        if path is None or path[0] in local or (isinstance(node, nodes.Name) and node.ctx != "load"):
            continue
        missing = _first_missing(path, context)
        if missing is not None:
            return _written(path[: missing + 1])
    return None


def _path(node: nodes.Node) -> list[str | int] | None:
    """`input.user["name"]` as ["input", "user", "name"]; None for anything but names, attributes and constants."""
    if isinstance(node, nodes.Name):
        return [node.name]
    if isinstance(node, nodes.Getattr):
        inner = _path(node.node)
        return None if inner is None else [*inner, node.attr]
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        inner = _path(node.node)
        key = node.arg.value
        return None if inner is None or not isinstance(key, str | int) else [*inner, key]
    return None


def _first_missing(path: list[str | int], context: JSONObject) -> int | None:
    """The index of the first step of `path` that the context does not have."""
    value: JSONValue = context
    for i, step in enumerate(path):
        if not _has(value, step):
            return i
        value = value[step]
    return None


def _has(value: JSONValue, step: str | int) -> bool:
    if isinstance(value, dict):
        return isinstance(step, str) and step in value
    return isinstance(value, list) and isinstance(step, int) and -len(value) <= step < len(value)


def _written(path: list[str | int]) -> str:
    text = str(path[0])
    for step in path[1:]:
        text += f".{step}" if isinstance(step, str) and step.isidentifier() else f"[{step!r}]"
    return text


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
                raise TemplateRenderError(f"cannot render {_excerpt(value)}: {_reason(exc, value, context)}") from exc
            if isinstance(result, Undefined):
                missing = _missing_name(value, context) or single.group("expr").strip()
                raise TemplateRenderError(f"cannot render {_excerpt(value)}: {missing} is not defined")
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
