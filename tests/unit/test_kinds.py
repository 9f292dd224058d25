"""Every node kind is one declaration: a model that no executor lacks, and a parser derived from the list."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import conveyor.nodes
from conveyor.definitions import NodeModel
from conveyor.errors import DefinitionError
from conveyor.nodes.kinds import KINDS, parse_definition


def _declared_models() -> set[type[NodeModel]]:
    for module in pkgutil.walk_packages(conveyor.nodes.__path__, "conveyor.nodes."):
        importlib.import_module(module.name)
    found: set[type[NodeModel]] = set()
    stack = list(NodeModel.__subclasses__())
    while stack:
        model = stack.pop()
        stack.extend(model.__subclasses__())
        if model.__module__.startswith("conveyor.nodes.") and "type" in model.__annotations__:
            found.add(model)
    return found


def test_every_declared_node_model_has_a_kind_with_an_executor() -> None:
    registered = {kind.model for kind in KINDS}
    missing = {m.__name__ for m in _declared_models() - registered}
    assert not missing, f"node models without a kind in conveyor.nodes.kinds.KINDS: {sorted(missing)}"
    for kind in KINDS:
        assert inspect.iscoroutinefunction(kind.execute), f"{kind.type} has no async executor"


def test_kind_types_are_unique() -> None:
    types = [kind.type for kind in KINDS]
    assert len(types) == len(set(types))


def test_the_parser_accepts_each_kind_by_its_type_and_names_unknown_ones() -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition({"name": "x", "start": "a", "nodes": [{"id": "a", "type": "teleport"}]})
    message = caught.value.message
    for kind in KINDS:
        assert f"'{kind.type}'" in message
