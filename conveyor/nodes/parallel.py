"""The parallel node: run branches side by side as child executions of the same definition version, each up to
the join, and go on to the join when the mode is met, cancelling the branches still running."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from conveyor.definitions import Edge, NodeId, NodeModel
from conveyor.errors import StepError
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.base import Completed, NodeKind, Outcome, SpawnGroup, StepContext, WaitForGroup
from conveyor.statemachines import COMPLETED, moves
from conveyor.store import connection
from conveyor.store.children import ChildEnd, ChildGroup, group_children
from conveyor.store.descendants import cancel_descendants

MAX_BRANCHES = 100
_CANCEL_MOVES = moves("cancel")


class AtLeast(BaseModel):
    """The node completes once this many branches have."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    at_least: int = Field(ge=1, le=MAX_BRANCHES)


class ParallelNode(NodeModel):
    """Run `branches` (node ids) side by side up to `join`; complete when `mode` is met: `all` of them, `any`
    one, or `{"at_least": n}`. The join sees each finished branch's output as
    `steps.<this node>.output.branches.<branch start id>`."""

    type: Literal["parallel"]
    branches: Annotated[list[NodeId], Field(min_length=1, max_length=MAX_BRANCHES)]
    join: NodeId | None = None
    mode: Literal["all", "any"] | AtLeast = "all"

    @field_validator("mode", mode="wrap")
    @classmethod
    def _mode(cls, value: object, handler: ValidatorFunctionWrapHandler) -> object:
        # One message for the field, not one per member of the union.
        try:
            return handler(value)
        except ValidationError:
            raise ValueError(
                f'\'mode\' is "all", "any" or {{"at_least": n}} with n from 1 to {MAX_BRANCHES}, not {value!r}'
            ) from None

    @model_validator(mode="after")
    def _well_formed(self) -> ParallelNode:
        if self.next is not None:
            raise ValueError("a parallel node goes on by 'join', not 'next'")
        if len(set(self.branches)) != len(self.branches):
            raise ValueError("a branch is named twice in 'branches'")
        if isinstance(self.mode, AtLeast) and self.mode.at_least > len(self.branches):
            raise ValueError(f"'at_least' is {self.mode.at_least}, more than the {len(self.branches)} branches")
        return self

    def outgoing(self) -> list[Edge]:
        """Each branch, and the join."""
        branches = [Edge(f"/branches/{i}", branch, "branches") for i, branch in enumerate(self.branches)]
        return [*branches, Edge("/join", self.join, "join")]

    def graph_errors(self, pointer: str, nodes: dict[str, NodeModel]) -> list[JSONObject]:
        """A join that some branch never reaches, or a branch that comes back to this node."""
        errors: list[JSONObject] = []
        for i, branch in enumerate(self.branches):
            seen = _downstream(branch, nodes, stop=self.join)
            if self.id in seen:
                message = f"branch {branch!r} leads back to the parallel node {self.id!r}"
                errors.append({"pointer": f"{pointer}/branches/{i}", "message": message, "value": branch})
            elif self.join is not None and self.join not in seen:
                message = f"the join {self.join!r} is not downstream of branch {branch!r}"
                errors.append({"pointer": f"{pointer}/join", "message": message, "value": self.join})
        return errors

    def needed(self) -> int:
        """How many branches must complete."""
        if isinstance(self.mode, AtLeast):
            return self.mode.at_least
        return len(self.branches) if self.mode == "all" else 1


def _downstream(start: str, nodes: dict[str, NodeModel], stop: str | None) -> set[str]:
    """The nodes reachable from `start`, not going past `stop`."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id not in nodes:
            continue
        seen.add(node_id)
        if node_id != stop:
            stack.extend(nodes[node_id].successors())
    return seen


async def execute(node: ParallelNode, ctx: StepContext) -> Outcome:
    """Start the branches on the first run; afterwards, complete, fail or wait on by how many have ended how."""
    key = f"{ctx.idempotency_key}:{ctx.generation}:{ctx.attempt}"  # each attempt, each operator retry: new branches
    async with connection(ctx.services.pool) as conn:
        children = await group_children(conn, ctx.execution_id, node.id, key)
    if not children:
        input_ = ctx.data["input"]
        steps = ctx.data["steps"]
        assert isinstance(input_, dict)
        assert isinstance(steps, dict)
        group = ChildGroup(
            group=key,
            workflow_id=ctx.workflow_id,
            workflow_version=ctx.workflow_version,
            starts=node.branches,
            inputs=[input_] * len(node.branches),
            running=len(node.branches),
            context=steps,  # a branch sees the steps before the fork, as the node does
            stop_node=node.join,
        )
        return SpawnGroup(group)
    done = [c for c in children if c.state == COMPLETED]
    ended = sum(1 for c in children if c.ended)
    possible = len(children) - (ended - len(done))
    if len(done) >= node.needed():
        await _cancel_rest(ctx, node, children, f"the parallel node {node.id!r} was met")
        branches = {node.branches[c.n - 1]: c.output for c in done}
        return Completed(output={"branches": branches}, branched=True, branch=node.join)
    if possible < node.needed():
        await _cancel_rest(ctx, node, children, f"the parallel node {node.id!r} can no longer be met")
        failed = {
            node.branches[c.n - 1]: {"state": c.state, "error": c.error} for c in children if c.ended and c not in done
        }
        raise StepError(
            f"parallel node {node.id!r}: {len(done)} branches completed, {node.needed()} needed", branches=failed
        )
    return WaitForGroup(key, ended)


async def _cancel_rest(ctx: StepContext, node: ParallelNode, children: list[ChildEnd], reason: str) -> None:
    """Cancel the branches still running, and theirs, each with a history row saying why."""
    if all(c.ended for c in children):
        return
    detail: JSONObject = {"by": "parallel", "node": node.id, "reason": reason, "parent_id": str(ctx.execution_id)}
    async with connection(ctx.services.pool) as conn, conn.transaction():
        cancelled = await cancel_descendants(conn, [ctx.execution_id], _CANCEL_MOVES, detail)
    ctx.log.info("branches_cancelled", count=len(cancelled), reason=reason)


KIND = NodeKind(ParallelNode, execute)
