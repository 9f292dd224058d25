"""A render's budget: how many steps, characters and seconds one render may spend, and the counting.

Every step of a render (a loop iteration, a call, a filter, an operator) is charged here, and every value
built is sized here before it is kept, so a render stops with a SecurityError as soon as it overspends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from jinja2.exceptions import SecurityError

MAX_STEPS = 100_000  # loop iterations, calls, filters and operators in one render
MAX_VALUE_CHARS = 1_000_000  # any one string or list built, and the rendered text
MAX_BUILT_CHARS = 10_000_000  # all strings and lists built in one render together
# Lists and objects a render's filters build as items: the collector walks each of them, all other threads waiting,
# and walking 100,000 took 100 ms here (with what the process already holds, which it walks too).
MAX_BUILT_CONTAINERS = 20_000
MAX_SECONDS = 1.0  # wall time of one render, checked at every step
MAX_NESTING = 40  # depth of a template's syntax tree


@dataclass(slots=True)
class Budget:
    """What one render may still spend."""

    steps: int = MAX_STEPS
    chars: int = MAX_BUILT_CHARS
    output: int = MAX_VALUE_CHARS
    containers: int = MAX_BUILT_CONTAINERS
    deadline: float = field(default_factory=lambda: time.monotonic() + MAX_SECONDS)


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


@contextlib.contextmanager
def budgeted() -> Iterator[Budget]:
    """Run a render under a fresh budget, or under the one of the render it is part of."""
    current = _BUDGET.get()
    if current is not None:
        yield current
        return
    budget = Budget()
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


def emitted(length: int) -> None:
    """Charge rendered text to the current render's output, all fields of a value together."""
    budget = _BUDGET.get()
    if budget is not None:
        budget.output -= length
        if budget.output < 0:
            raise SecurityError(f"the rendered text would be longer than {MAX_VALUE_CHARS} characters")


def step() -> None:
    """Charge one step to the current render, if one runs; raise when the budget is spent."""
    budget = _BUDGET.get()
    if budget is None:  # compiling: Jinja folds constants, and sizes are still checked before each call
        return
    budget.steps -= 1
    if budget.steps < 0:
        raise SecurityError(f"the template takes more than {MAX_STEPS} steps")
    if time.monotonic() > budget.deadline:
        raise SecurityError(f"the template takes longer than {MAX_SECONDS} s to render")


def size(length: int, what: str = "value") -> None:
    """Refuse a value longer than any one value may be."""
    if length > MAX_VALUE_CHARS:
        raise SecurityError(f"the {what} would be too large ({length} > {MAX_VALUE_CHARS})")


def json_size(value: Any) -> int:
    """How long a value's JSON text can be at most, counted without building it (json.dumps is one C call that
    holds the GIL for as long as its text takes); counting stops once past what any value may be."""
    total, stack = 0, [value]
    while stack and total <= MAX_VALUE_CHARS:
        item = stack.pop()
        if isinstance(item, str):
            plain = item.isascii() and item.isprintable()
            total += 2 + (len(item) + item.count('"') + item.count("\\") if plain else 6 * len(item))
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += 2 + 2 * len(item)
            stack.extend(item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        else:
            total += 24
    return total


def built(value: Any) -> Any:
    """Size a value built by the render and charge its length; return it."""
    if isinstance(value, str | list | tuple | dict):
        size(len(value))
        budget = _BUDGET.get()
        if budget is not None:
            budget.chars -= len(value)
            if budget.chars < 0:
                raise SecurityError(f"the template builds more than {MAX_BUILT_CHARS} characters")
    return value


def counted(items: Iterable[Any]) -> Iterator[Any]:
    """Charge a step for each item as it is taken."""
    for item in items:
        step()
        yield item


def materialised(value: Any) -> Any:
    """A filter's lazy result as a list, so no generator object reaches the output."""
    if isinstance(value, Iterator):
        items = []
        budget = _BUDGET.get()
        for item in counted(value):
            items.append(item)
            size(len(items), "list")
            if budget is not None and isinstance(item, list | tuple | dict):
                budget.containers -= 1
                if budget.containers < 0:
                    raise SecurityError(f"the template builds more than {MAX_BUILT_CONTAINERS} lists and objects")
        return items
    return value
