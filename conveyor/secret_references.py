"""Where templates name secrets: only as `secrets.NAME` or `secrets['NAME']`, so each use is known at save."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from jinja2 import TemplateError, nodes

from conveyor.jsonvalue import JSONValue
from conveyor.sandbox import BoundedSandbox

SECRETS = "secrets"  # the name templates reach secrets by
SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")

_PARSER = BoundedSandbox()


@dataclass(frozen=True, slots=True)
class SecretUse:
    """One place a template names `secrets`: the secret's name, or why the use is refused."""

    pointer: str
    name: str | None
    problem: str | None = None


def secret_uses(value: JSONValue, pointer: str = "") -> Iterator[SecretUse]:
    """Every use of `secrets` in the template strings of a JSON value."""
    if isinstance(value, str):
        if SECRETS in value and "{" in value:
            yield from _in_template(value, pointer)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from secret_uses(item, f"{pointer}/{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from secret_uses(item, f"{pointer}/{i}")


def _in_template(text: str, pointer: str) -> Iterator[SecretUse]:
    try:
        tree = _PARSER.parse(text)
    except (TemplateError, RecursionError):
        return  # the template check reports it
    stack: list[tuple[nodes.Node, nodes.Node | None]] = [(tree, None)]
    while stack:
        node, parent = stack.pop()
        if isinstance(node, nodes.Name) and node.name == SECRETS and node.ctx == "load":
            yield _use(parent, node, pointer)
        stack.extend((child, node) for child in node.iter_child_nodes())


def _use(parent: nodes.Node | None, node: nodes.Name, pointer: str) -> SecretUse:
    name: object = None
    if isinstance(parent, nodes.Getattr) and parent.node is node:
        name = parent.attr
    elif isinstance(parent, nodes.Getitem) and parent.node is node and isinstance(parent.arg, nodes.Const):
        name = parent.arg.value
    if isinstance(name, str) and SECRET_NAME.fullmatch(name):
        return SecretUse(pointer, name)
    return SecretUse(pointer, None, "a secret is named literally, as {{ secrets.NAME }}; secrets is no value itself")


def secret_names(value: JSONValue) -> set[str]:
    """The names of the secrets a JSON value's templates use."""
    return {use.name for use in secret_uses(value) if use.name is not None}
