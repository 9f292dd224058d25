"""Every node kind conveyor knows; the definition parser and the dispatch to executors derive from this list."""

from __future__ import annotations

from typing import Any

from conveyor.definitions import DefinitionParser, NodeModel, WorkflowDefinition, definition_parser
from conveyor.jsonvalue import JSONValue
from conveyor.nodes import (
    action,
    condition,
    delay,
    foreach,
    parallel,
    shared_flow,
    transform,
    wait_for_event,
    webhook,
)
from conveyor.nodes.base import NodeKind, Outcome, StepContext

KINDS: tuple[NodeKind[Any], ...] = (
    action.KIND,
    delay.KIND,
    condition.KIND,
    shared_flow.KIND,
    webhook.KIND,
    wait_for_event.KIND,
    transform.KIND,
    parallel.KIND,
    foreach.KIND,
)

_BY_TYPE: dict[str, NodeKind[Any]] = {kind.type: kind for kind in KINDS}
_PARSER: DefinitionParser = definition_parser(kind.model for kind in KINDS)
DEFINITION_MODEL: type[WorkflowDefinition] = _PARSER.model
"""The model of a definition made of these kinds: its JSON Schema is the API's."""


def parse_definition(raw: JSONValue) -> WorkflowDefinition:
    """Validate a definition to be saved (shape, graph, uses of secrets), raising DefinitionError naming each
    problem."""
    return _PARSER.parse(raw)


def load_definition(raw: JSONValue) -> WorkflowDefinition:
    """Read a stored definition back: its shape and graph, as `parse_definition` checked them at its save."""
    return _PARSER.load(raw)


async def execute(node: NodeModel, ctx: StepContext) -> Outcome:
    """Run the node with its kind's executor."""
    return await _BY_TYPE[node.type].execute(node, ctx)
