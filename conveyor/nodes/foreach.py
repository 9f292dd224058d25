"""The foreach node: run a workflow (`flow`) or a branch of this one (`branch`) once per item of a list, at most
`concurrency` at once, and take the results in item order.

Every item is a child execution, all inserted in one statement when the step first runs: the first `concurrency`
due, the rest waiting as rows that each ending item releases in order (conveyor/store/children.py). The parent
waits as a row and holds no results meanwhile; the database builds the list of outputs when the last item ends.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from conveyor.definitions import Edge, NodeId, NodeModel, Reference
from conveyor.errors import PermanentStepError, StepError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import Completed, NodeKind, Outcome, SpawnGroup, StepContext, WaitForGroup
from conveyor.statemachines import moves
from conveyor.store import connection
from conveyor.store.children import ChildGroup, group_outputs, group_tally, top_up
from conveyor.store.descendants import cancel_descendants, flow_depth
from conveyor.store.workflows import get_workflow
from conveyor.templating import is_templated

MAX_ITEMS = 10_000
MAX_CONCURRENCY = 1000
_CANCEL_MOVES = moves("cancel")


class ForeachNode(NodeModel):
    """Run `flow` (a workflow) or `branch` (a node of this one, to its end) for each item of `items` (a list, or a
    template that renders to one), at most `concurrency` at once. Each run's input is `{"item", "index"}`; the
    output is `{"results": [...]}` in item order. `on_item_error`: `fail` the node at the first item that fails
    (cancelling the rest), or `continue` with null in its place."""

    type: Literal["foreach"]
    items: JSONValue
    flow: str | None = Field(default=None, min_length=1, max_length=200)
    branch: NodeId | None = None
    concurrency: int = Field(default=10, ge=1, le=MAX_CONCURRENCY, strict=True)
    on_item_error: Literal["fail", "continue"] = "fail"

    templated: ClassVar[tuple[str, ...]] = ("items",)

    @model_validator(mode="after")
    def _well_formed(self) -> ForeachNode:
        if (self.flow is None) == (self.branch is None):
            raise ValueError("a foreach node runs exactly one of 'flow' (a workflow) or 'branch' (a node id)")
        return self

    def outgoing(self) -> list[Edge]:
        """`next`, and the branch each item runs."""
        item = [Edge("/branch", self.branch, "branch")] if self.branch is not None else []
        return [*super().outgoing(), *item]

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """Items that are not a list, nor a template that could render to one, or too many of them."""
        if is_templated(self.items) and isinstance(self.items, str):
            return []
        if not isinstance(self.items, list):
            message = "'items' is a list, or a template that renders to one"
            return [{"pointer": f"{pointer}/items", "message": message, "value": None}]
        if len(self.items) > MAX_ITEMS:
            message = f"'items' has {len(self.items)} items, more than the {MAX_ITEMS} a foreach runs"
            return [{"pointer": f"{pointer}/items", "message": message, "value": None}]
        return []

    def graph_errors(self, pointer: str, nodes: dict[str, NodeModel]) -> list[JSONObject]:
        """A branch that comes back to this node: each item would start the foreach again."""
        if self.branch is None:
            return []
        seen: set[str] = set()
        stack = [self.branch]
        while stack:
            node_id = stack.pop()
            if node_id in seen or node_id not in nodes:
                continue
            seen.add(node_id)
            stack.extend(nodes[node_id].successors())
        if self.id not in seen:
            return []
        message = f"branch {self.branch!r} leads back to the foreach node {self.id!r}"
        return [{"pointer": f"{pointer}/branch", "message": message, "value": self.branch}]

    def references(self) -> list[Reference]:
        """The workflow it runs, if it runs one."""
        return [Reference("workflow", "/flow", self.flow)] if self.flow is not None else []


class ItemsError(PermanentStepError):
    """The foreach's items did not render to a list it can run."""

    code = "invalid_items"


async def execute(node: ForeachNode, ctx: StepContext) -> Outcome:
    """Start every item on the first run; afterwards, fail, finish or wait on by how the items stand."""
    key = f"{ctx.idempotency_key}:{ctx.generation}:{ctx.attempt}"  # each attempt, each operator retry: new items
    async with connection(ctx.services.pool) as conn:
        tally = await group_tally(conn, ctx.execution_id, node.id, key)
        if tally.total == 0:
            return await _start(node, ctx, key)
        if node.on_item_error == "fail" and tally.first_failure is not None:
            if tally.ended < tally.total:
                detail: JSONObject = {"by": "foreach", "node": node.id, "reason": "an item failed"}
                async with conn.transaction():
                    await cancel_descendants(conn, [ctx.execution_id], _CANCEL_MOVES, detail)
            raise StepError(f"foreach node {node.id!r}: an item did not complete", item=tally.first_failure)
        if tally.ended == tally.total:
            results = await group_outputs(conn, ctx.execution_id, node.id, key)
            failed = tally.total - tally.completed
            return Completed(output={"results": results, "completed": tally.completed, "failed": failed})
        await top_up(conn, ctx.execution_id, node.id, key, node.concurrency)
    return WaitForGroup(key, tally.ended)


async def _start(node: ForeachNode, ctx: StepContext, key: str) -> Outcome:
    items = await ctx.render("items", node.items, keep=False)  # the items go to the children, not the step's record
    if not isinstance(items, list):
        raise ItemsError(f"'items' rendered to {type(items).__name__}, not a list", field="items")
    if len(items) > MAX_ITEMS:
        raise ItemsError(f"'items' rendered to {len(items)} items, more than {MAX_ITEMS}", field="items")
    if not items:
        return Completed(output={"results": [], "completed": 0, "failed": 0})
    workflow_id, version, start = ctx.workflow_id, ctx.workflow_version, node.branch
    if node.flow is not None:
        limit = ctx.services.max_flow_depth
        async with connection(ctx.services.pool) as conn:
            flow = await get_workflow(conn, node.flow, ctx.namespace)
            if await flow_depth(conn, ctx.execution_id, limit) >= limit:
                raise PermanentStepError(f"foreach flow {node.flow!r} would nest more than {limit} levels deep")
        workflow_id, version, start = flow.id, flow.version, flow.start_node
    assert start is not None
    inputs: list[JSONValue] = [{"item": item, "index": i} for i, item in enumerate(items)]
    group = ChildGroup(
        group=key,
        workflow_id=workflow_id,
        workflow_version=version,
        starts=[start] * len(items),
        inputs=inputs,
        running=node.concurrency,
        context={},
        items=True,
    )
    return SpawnGroup(group)


KIND = NodeKind(ForeachNode, execute)
