"""The Jinja environment templates run in: lookups reach data only, and every render is bounded.

Three rules make a hostile template harmless. Attribute and item lookups resolve JSON keys and
indexes, never Python attributes, so no walk reaches `__class__`, a method or `str.format`; the
template's names are data too (no globals), and `loop`, macros, `caller` and `self` may only be
called or read for their documented attributes. Every step (a loop iteration, a call, a filter, an
operator) is counted against a budget of steps, characters built and seconds, and each operation
whose size depends on its arguments (`*`, `**`, `%`, `~`, `|center`, `|join`, …) is sized before it
runs, so no single step, however hostile, takes long. Filters are those `filter_costs.py` classes by
cost: inputs are capped before the costly ones, and those no bound is proven for run only in a render
process that is killed on time (`render_process.py`). Output that is not text renders as its JSON
text; a value with no JSON form (a function, a macro, `loop`) is an error, never a Python repr.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import re
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from jinja2 import Template, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.runtime import Context, LoopContext, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, pass_eval_context
from jinja2.visitor import NodeTransformer

from conveyor.filter_costs import FILTER_COSTS, KILLABLE_FILTERS, MAX_SORTED_ITEMS, SORTING_FILTERS, TEXT_CAPS
from conveyor.render_budget import (
    MAX_NESTING,
    built,
    counted,
    json_size,
    materialised,
    size,
    step,
)
from conveyor.render_process import in_child

_MAX_COUNT = 10_000  # a filter's count argument: batch size, number of slices
_MAX_WIDTH = 1_000  # a format width or precision, a JSON indent
_MAX_POWER_BITS = 100_000  # the size of an integer power

_LOOP_VALUES = frozenset(
    {"index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0", "previtem", "nextitem"}
)
_LOOP_CALLS = frozenset({"cycle", "changed"})
_RUNTIME_NAMES = frozenset({"loop", "self", "caller"})
_FORMAT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?")


def _check_format(spec: Any, args: Iterable[Any]) -> None:
    if not isinstance(spec, str):
        return
    for match in _FORMAT_SPEC.finditer(spec):
        for number in match.groups():
            if number == "*" or (number and int(number) > _MAX_WIDTH):
                raise SecurityError(f"format widths above {_MAX_WIDTH} are not allowed")
    size(len(spec) + sum(len(str(a)) for a in args))


def _format_arguments(right: Any) -> Any:
    """The right side of `text % right`, lists and objects in it as JSON text."""
    if isinstance(right, dict):
        return {k: _as_text(v) for k, v in right.items()}
    if isinstance(right, tuple):
        return tuple(_as_text(v) for v in right)
    return _as_text(right)


def _both_integers(left: Any, right: Any) -> bool:
    return isinstance(left, int) and isinstance(right, int)


def _text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value))


def _indent_size(a: dict[str, Any]) -> int:
    width = a["width"]
    per_line = len(width) if isinstance(width, str) else int(width)
    return _text_size(a["s"]) + per_line * (str(a["s"]).count("\n") + 1)


# What each filter whose output can outgrow its input would build, from its bound arguments.
_ESTIMATES: dict[str, Callable[[dict[str, Any]], int]] = {
    "center": lambda a: max(_text_size(a["value"]), int(a["width"])),
    "indent": _indent_size,
    "wordwrap": lambda a: (
        _text_size(a["s"]) + len(a["wrapstring"] or "\n") * (_text_size(a["s"]) // max(int(a["width"]), 1) + 1)
    ),
    "replace": lambda a: (
        _text_size(a["s"])
        + (str(a["s"]).count(str(a["old"])) if a["old"] else _text_size(a["s"]) + 1) * _text_size(a["new"])
    ),
    "tojson": lambda a: json_size(a["value"]),
    "join": lambda a: sum(_text_size(v) for v in a["value"]) + _text_size(a["d"]) * max(len(a["value"]) - 1, 0),
}
# Filters that treat their input as text: a list or an object becomes its JSON text first, not its repr.
_TEXT_FILTERS = frozenset(
    {"capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "replace", "safe"}
    | {"striptags", "title", "trim", "truncate", "upper", "urlize", "wordcount", "wordwrap"}
)
# Filters whose argument counts the parts they build.
_COUNTS = {"batch": "linecount", "slice": "slices", "tojson": "indent"}


def _as_text(value: Any) -> Any:
    return json_text(value) if isinstance(value, list | tuple | dict) else value


def _check_cost(name: str, arguments: dict[str, Any]) -> None:
    """Refuse an input too large for a filter that costs more than linear, or one that must run killable."""
    if name in KILLABLE_FILTERS and not in_child():
        raise SecurityError(f"|{name} runs only where it is written in the template itself, not named by data")
    first = next(iter(arguments))
    cap = TEXT_CAPS.get(name)
    if cap is not None and _text_size(arguments[first]) > cap:
        raise SecurityError(f"|{name} takes at most {cap} characters; this text has {_text_size(arguments[first])}")
    if name in SORTING_FILTERS:
        items = arguments[first] = materialised(arguments[first])
        if len(items) > MAX_SORTED_ITEMS:
            raise SecurityError(f"|{name} orders at most {MAX_SORTED_ITEMS} items; this value has {len(items)}")


def _check_filter(name: str, arguments: dict[str, Any]) -> None:
    if name in _TEXT_FILTERS:
        first = next(iter(arguments))
        arguments[first] = _as_text(arguments[first])
    _check_cost(name, arguments)
    if name == "join" and isinstance(arguments["value"], Iterator):
        arguments["value"] = materialised(arguments["value"])
    if name == "format":
        arguments["args"] = tuple(_as_text(v) for v in arguments["args"])
        arguments["kwargs"] = {k: _as_text(v) for k, v in arguments["kwargs"].items()}
        _check_format(arguments["value"], [*arguments["args"], *arguments["kwargs"].values()])
    if name == "sum" and not isinstance(arguments["start"], int | float):
        raise SecurityError("sum adds numbers only")
    if name in _COUNTS and int(arguments[_COUNTS[name]] or 0) > _MAX_COUNT:
        raise SecurityError(f"|{name}({arguments[_COUNTS[name]]}) is too large; at most {_MAX_COUNT}")
    estimate = _ESTIMATES.get(name)
    if estimate is not None:
        size(estimate(arguments), f"result of |{name}")


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(func)
    passes_arg = _PassArg.from_obj(func) is not None

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        step()
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if passes_arg:
            arguments.pop(next(iter(signature.parameters)))
        _check_filter(name, arguments)
        bound.arguments.update(arguments)
        return built(materialised(func(*bound.args, **bound.kwargs)))

    return bounded


@pass_eval_context
def _concat(eval_ctx: Any, items: list[Any]) -> str:
    """`a ~ b`, sized before it is joined."""
    texts = [v if isinstance(v, str) else json_text(v) for v in items]
    size(sum(len(t) for t in texts))
    return str(built(markup_join(texts) if eval_ctx.autoescape else str_join(texts)))


def _loop(items: Any) -> Iterator[Any]:
    """A `for` loop's iterable, each iteration counted."""
    return counted(items)


def json_text(value: Any) -> str:
    """How a value that is not text shows in rendered text: its JSON, or an error if it has none."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # StrictUndefined raises, naming what is missing
    size(json_size(value), "JSON text")
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SecurityError(f"a {type(value).__name__} has no JSON form and does not render") from exc


@pass_eval_context
def _finalize(eval_ctx: Any, value: Any) -> str:
    """Every `{{ … }}` output; taking the context also keeps Jinja from folding constants past it."""
    return json_text(value)


class _Bounds(NodeTransformer):
    """Count every loop iteration and size every `~`, by rewriting them into the bounded filters."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 (the visitor's naming)
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, "conveyor_loop", [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return nodes.Filter(
            nodes.List(node.nodes, lineno=node.lineno), "conveyor_concat", [], [], None, None, lineno=node.lineno
        )


def _runtime_use_allowed(node: nodes.Node, parent: nodes.Node | None) -> bool:
    """`loop`, `self`, `caller` and macros may be called, and `loop` read for its documented values."""
    if isinstance(parent, nodes.Call) and parent.node is node:
        return True
    return isinstance(parent, nodes.Getattr) and parent.attr in _LOOP_VALUES


def check_tree(tree: nodes.Template) -> None:
    """Refuse a template nested too deeply, or one that handles runtime objects as values."""
    runtime_names = _RUNTIME_NAMES | {m.name for m in tree.find_all(nodes.Macro)}
    stack: list[tuple[nodes.Node, nodes.Node | None, nodes.Node | None, int]] = [(tree, None, None, 0)]
    while stack:
        node, parent, grandparent, depth = stack.pop()
        if depth > MAX_NESTING:
            raise TemplateSyntaxError(f"the template is nested more than {MAX_NESTING} deep", node.lineno or 1)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name in runtime_names:
            if isinstance(parent, nodes.Getattr) and parent.attr in _LOOP_CALLS:
                allowed = isinstance(grandparent, nodes.Call) and grandparent.node is parent
            else:
                allowed = _runtime_use_allowed(node, parent)
            if not allowed:
                raise TemplateSyntaxError(f"{node.name!r} can only be called here, not used as a value", node.lineno)
        stack.extend((child, node, parent, depth + 1) for child in node.iter_child_nodes())


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """A sandbox for JSON templating: data-only lookups, no globals, every step within a budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=_finalize, **options)
        self.globals.clear()
        self.filters["string"] = json_text
        self.filters = {name: _bounded_filter(name, f) for name, f in self.filters.items() if name in FILTER_COSTS}
        self.filters["conveyor_loop"] = _loop
        self.filters["conveyor_concat"] = _concat

    def from_string(
        self,
        source: str | nodes.Template,
        globals: MutableMapping[str, Any] | None = None,
        template_class: type[Template] | None = None,
    ) -> Template:
        """Parse, check and bound the template, then compile it (expressions come here too)."""
        tree = self.parse(source) if isinstance(source, str) else source
        check_tree(tree)
        bounded = _Bounds().visit(tree)
        return super().from_string(bounded, globals, template_class)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """A JSON object's key, a loop's documented value or a named tuple's field; nothing else."""
        if attribute.startswith("_"):
            raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is unsafe")
        if isinstance(obj, dict):
            return obj[attribute] if attribute in obj else self.undefined(obj=obj, name=attribute)
        if isinstance(obj, LoopContext) and attribute in _LOOP_VALUES | _LOOP_CALLS:
            return getattr(obj, attribute)
        if isinstance(obj, tuple) and attribute in getattr(type(obj), "_fields", ()):
            return getattr(obj, attribute)
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """A JSON object's key or an array's or string's index; nothing else."""
        indexable = isinstance(obj, list | tuple | str) and isinstance(argument, int)
        if isinstance(obj, dict) or indexable:
            with contextlib.suppress(LookupError, TypeError):
                return obj[argument]
        if isinstance(argument, str):
            return self.getattr(obj, argument)
        return self.undefined(obj=obj, name=str(argument))

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Count the call; a recursive loop's next level is counted like any loop."""
        step()
        if isinstance(__obj, LoopContext) and args:
            args = (counted(args[0]), *args[1:])
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Size repetitions, powers, concatenations and `%` formats before computing them."""
        step()
        if operator == "*" and _both_integers(left, right):
            if left.bit_length() + right.bit_length() > _MAX_POWER_BITS:
                raise SecurityError("the product of these integers is too large")
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    size(len(seq) * times, "repeated value")
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            if max(left.bit_length(), 1) * abs(right) > _MAX_POWER_BITS:
                raise SecurityError(f"the power {left} ** {right} is too large")
        elif operator == "**" and isinstance(right, int | float) and abs(right) > _MAX_WIDTH:
            raise SecurityError(f"the exponent {right} is too large")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            size(len(left) + len(right), "concatenated value")
        elif operator == "%" and isinstance(left, str):
            right = _format_arguments(right)
            values = right.values() if isinstance(right, dict) else right if isinstance(right, tuple) else [right]
            _check_format(left, values)
        return built(super().call_binop(context, operator, left, right))
