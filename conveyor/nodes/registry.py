"""The node registry: one executor per node type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.definitions import AnyNode
from conveyor.nodes.action import ActionExecutor
from conveyor.nodes.base import NodeExecutor, Outcome, StepContext
from conveyor.nodes.condition import ConditionExecutor
from conveyor.nodes.delay import DelayExecutor
from conveyor.nodes.shared_flow import SharedFlowExecutor
from conveyor.nodes.webhook import WebhookExecutor


@dataclass(frozen=True, slots=True)
class NodeRegistry:
    """Dispatches each node to the executor of its type."""

    executors: Mapping[str, NodeExecutor[Any]]

    async def execute(self, node: AnyNode, ctx: StepContext) -> Outcome:
        """Run the node with its type's executor."""
        return await self.executors[node.type].execute(node, ctx)


def default_registry(webhook_allow_hosts: frozenset[str]) -> NodeRegistry:
    """The registry with every built-in node type."""
    return NodeRegistry(
        {
            "action": ActionExecutor(),
            "delay": DelayExecutor(),
            "condition": ConditionExecutor(),
            "shared_flow": SharedFlowExecutor(),
            "webhook": WebhookExecutor(webhook_allow_hosts),
        }
    )
