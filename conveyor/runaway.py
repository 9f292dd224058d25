"""Runaway cycles: a cycle of a workflow's graph that no node in it paces (a delay, a wait) and no edge of it
leaves (a condition's other branch, an error path, an end) would run until a guard stopped it, so a definition
that has one is refused at save, naming its nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.jsonvalue import JSONObject

if TYPE_CHECKING:
    from conveyor.definitions import NodeModel


def runaway_errors(nodes: Sequence[NodeModel], ids: dict[str, int]) -> list[JSONObject]:
    """A cycle that nothing leaves or paces: no node in it waits, and no edge of it (a condition's branch, an
    error path, an end) leads out. It would run until a guard trips, so it is refused at save."""
    errors: list[JSONObject] = []
    by_id = {n.id: n for n in nodes}
    for cycle in _cycles(by_id):
        members = [by_id[node_id] for node_id in cycle]
        paced = any(n.pacing for n in members)
        leaves = any(e.target is None or e.target not in cycle for n in members for e in n.edges())
        if not paced and not leaves:
            names = sorted(cycle, key=ids.__getitem__)
            errors.append(
                {
                    "pointer": f"/nodes/{ids[names[0]]}",
                    "message": f"nodes {', '.join(map(repr, names))} form a cycle that no delay, wait, condition"
                    " or error path leaves: it would run until a guard stopped it",
                    "value": names,
                }
            )
    return errors


def _cycles(by_id: dict[str, NodeModel]) -> list[set[str]]:
    """The strongly connected components that hold a cycle (Tarjan's, without recursion: a definition may be long)."""
    successors = {node_id: [t for t in n.successors() if t in by_id] for node_id, n in by_id.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []
    for root in successors:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node_id, child = work.pop()
            if child == 0:
                index[node_id] = low[node_id] = len(index)
                stack.append(node_id)
            targets = successors[node_id]
            if child < len(targets):
                work.append((node_id, child + 1))
                target = targets[child]
                if target not in index:
                    work.append((target, 0))
                elif target in stack:
                    low[node_id] = min(low[node_id], index[target])
                continue
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node_id])
            if low[node_id] == index[node_id]:
                component = set(stack[stack.index(node_id) :])
                del stack[stack.index(node_id) :]
                if len(component) > 1 or node_id in successors[node_id]:
                    found.append(component)
    return found
