"""Which worker may run a step: a built-in kind or action runs anywhere; a step of the team's own action runs
only on a worker that provides it. The execution row names that action (`executions.action`), and the claim
takes only rows whose action this worker provides."""

from __future__ import annotations

from conveyor.definitions import NodeModel, WorkflowDefinition
from conveyor.nodes.action import ActionNode
from conveyor.nodes.actions import BUILTINS, REGISTRY

_BUILTIN_KEYS = frozenset(spec.key for spec in BUILTINS)


def provided_actions() -> list[str]:
    """The keys of the actions this process provides, for the claim's filter."""
    return sorted(spec.key for spec in REGISTRY)


def routed_action(definition: WorkflowDefinition, node_id: str | None) -> str | None:
    """The team's action the node `node_id` runs, which routes its execution; None when any worker runs it."""
    return _routing(definition.node(node_id)) if node_id is not None else None


def lacking_action(node: NodeModel | None) -> str | None:
    """The team's action the node runs that this process does not provide: the execution goes to a worker
    that does."""
    action = _routing(node) if node is not None else None
    return action if action is not None and REGISTRY.get(action) is None else None


def _routing(node: NodeModel) -> str | None:
    return node.action if isinstance(node, ActionNode) and node.action not in _BUILTIN_KEYS else None
