"""Where templates name secrets: only as `{{ secrets.NAME }}` or `{{ secrets['NAME'] }}`, on its own at the top
of a template, so each use is known at save and the secret is sent exactly as it is stored.

The one filter a secret may pass through is `urlencode`, to be sent inside a URL (a password in its userinfo,
a token in its query). A secret inside any other filter, an operator, a call, a test, a loop or a block
(`|upper`, `[::-1]`, `~`, `{% for %}`, `{% filter %}`, `{% set %}`) is refused: what a transform makes of a
secret cannot be told apart from data, so no record of it could be redacted. Found by walking the template's
syntax tree, never by matching its text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import TemplateError, nodes

from conveyor.errors import PermanentStepError
from conveyor.jsonvalue import JSONValue, pointer_segment
from conveyor.sandbox import BoundedSandbox

SECRETS = "secrets"  # the name templates reach secrets by
# Filters that only encode a secret for where it is sent; a record shows the marker in their place.
SENDING_FILTERS = frozenset({"urlencode"})
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

_PARSER = BoundedSandbox()


class MisplacedSecretError(PermanentStepError):
    """A template uses a secret where it could not be sent as it is (a definition saved before the rule)."""

    code = "misplaced_secret"


@dataclass(frozen=True, slots=True)
class SecretUse:
    """One place a template names `secrets`: the secret's name, or why the use is refused."""

    pointer: str
    name: str | None
    problem: str | None = None


def secret_uses(value: JSONValue, pointer: str = "") -> Iterator[SecretUse]:
    """Every use of `secrets` in the template strings of a JSON value, however deeply nested."""
    stack: list[tuple[str, JSONValue]] = [(pointer, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            if SECRETS in item and "{" in item:
                yield from _in_template(item, at)
        elif isinstance(item, dict):
            stack.extend((f"{at}/{pointer_segment(str(k))}", v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{at}/{i}", v) for i, v in reversed(list(enumerate(item))))


def _in_template(text: str, pointer: str) -> Iterator[SecretUse]:
    try:
        tree = _PARSER.parse(text)
    except (TemplateError, RecursionError):
        return  # the template check reports it
    stack: list[tuple[nodes.Node, tuple[nodes.Node, ...]]] = [(tree, ())]
    while stack:
        node, ancestors = stack.pop()
        if isinstance(node, nodes.Name) and node.name == SECRETS and node.ctx == "load":
            yield _use(ancestors, node, pointer)
        stack.extend((child, (node, *ancestors)) for child in node.iter_child_nodes())


_DYNAMIC = "a secret is named literally, as {{ secrets.NAME }}; secrets is no value itself"
_TRANSFORMED = (
    "a secret is sent as it is: write {{ secrets.NAME }} (or {{ secrets.NAME|urlencode }}) on its own, with no "
    "other filter, operator, index, call, test, loop or block around it"
)


def _use(ancestors: tuple[nodes.Node, ...], node: nodes.Name, pointer: str) -> SecretUse:
    lookup = ancestors[0] if ancestors else None
    name: object = None
    if isinstance(lookup, nodes.Getattr) and lookup.node is node:
        name = lookup.attr
    elif isinstance(lookup, nodes.Getitem) and lookup.node is node and isinstance(lookup.arg, nodes.Const):
        name = lookup.arg.value
    if not (isinstance(name, str) and SECRET_NAME.fullmatch(name)):
        return SecretUse(pointer, None, _DYNAMIC)
    place = ancestors[1:]
    if place and _encodes(place[0], ancestors[0]):
        place = place[1:]
    # The lookup's own place: an output (`{{ … }}`) of the template itself, with nothing in between.
    if len(place) != 2 or not (isinstance(place[0], nodes.Output) and isinstance(place[1], nodes.Template)):
        return SecretUse(pointer, name, _TRANSFORMED)
    return SecretUse(pointer, name)


def _encodes(node: nodes.Node, lookup: nodes.Node) -> bool:
    """Whether a node is a sending filter applied, with no arguments, to the secret's lookup."""
    return (
        isinstance(node, nodes.Filter)
        and node.name in SENDING_FILTERS
        and node.node is lookup
        and not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
    )


def secret_names(value: JSONValue) -> set[str]:
    """The names of the secrets a JSON value's templates use as they may."""
    return {use.name for use in secret_uses(value) if use.name is not None and use.problem is None}
