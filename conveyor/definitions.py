"""Workflow definitions: pydantic models, then validation of the graph they form."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Literal

import datalogic_py
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator
from pydantic import ValidationError as PydanticValidationError

from conveyor.durations import parse_duration
from conveyor.errors import DefinitionError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.templating import template_errors

_RULES = datalogic_py.Engine()


_MAX_DURATION = timedelta(days=3660)


def _duration(value: object) -> object:
    try:
        if isinstance(value, str):
            value = parse_duration(value)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = timedelta(seconds=value)
    except OverflowError as exc:
        raise ValueError(f"duration {value!r} is too long") from exc
    if isinstance(value, timedelta) and not timedelta(0) <= value <= _MAX_DURATION:
        raise ValueError(f"duration {value} must be between 0 and {_MAX_DURATION.days} days")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")]


class RetryPolicy(BaseModel):
    """How often and how far apart a failing step is tried again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff: Literal["fixed", "exponential"] = "exponential"
    delay: Duration = timedelta(seconds=1)
    max_delay: Duration = timedelta(minutes=5)
    jitter: bool = True


class _Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: NodeId
    next: NodeId | None = None
    retry: RetryPolicy = RetryPolicy()
    timeout: Duration | None = None

    def successors(self) -> list[str]:
        """The node ids this node can lead to."""
        return [self.next] if self.next else []


class ActionNode(_Node):
    """Run a registered action, such as send_email."""

    type: Literal["action"]
    action: str
    params: JSONObject = {}


class DelayNode(_Node):
    """Wait for a duration, or until a templated timestamp."""

    type: Literal["delay"]
    duration: Duration | None = None
    until: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> DelayNode:
        if (self.duration is None) == (self.until is None):
            raise ValueError("a delay node needs exactly one of 'duration' or 'until'")
        return self


class ConditionNode(_Node):
    """Choose the next node with a JSON Logic rule."""

    type: Literal["condition"]
    rule: JSONValue
    then: NodeId | None = None
    else_: NodeId | None = Field(default=None, alias="else")

    @model_validator(mode="after")
    def _branches_not_next(self) -> ConditionNode:
        if self.next is not None:
            raise ValueError("a condition node goes on by 'then' and 'else', not 'next'")
        return self

    def successors(self) -> list[str]:
        """The node ids this node can lead to."""
        return [n for n in (self.then, self.else_) if n]


class SharedFlowNode(_Node):
    """Run another workflow as a child execution and wait for it."""

    type: Literal["shared_flow"]
    flow: str
    input: JSONObject = {}


class WebhookNode(_Node):
    """Call an HTTP endpoint."""

    type: Literal["webhook"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = {}
    body: JSONValue = None


AnyNode = ActionNode | DelayNode | ConditionNode | SharedFlowNode | WebhookNode
Node = Annotated[AnyNode, Field(discriminator="type")]


class WorkflowDefinition(BaseModel):
    """A workflow: named nodes and the edges between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    start: NodeId
    nodes: list[Node] = Field(min_length=1)

    _index: dict[str, AnyNode] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        """Index the nodes by id."""
        self._index = {n.id: n for n in self.nodes}

    def node(self, node_id: str) -> AnyNode:
        """Look a node up by id."""
        return self._index[node_id]

    def shared_flows(self) -> Iterator[tuple[str, str]]:
        """Yield (JSON pointer, flow) for every shared-flow reference."""
        for i, node in enumerate(self.nodes):
            if isinstance(node, SharedFlowNode):
                yield f"/nodes/{i}/flow", node.flow


def _pointer(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the union tag into the location ("nodes", 0, "action", "next"); a pointer must not.
    parts = [str(p) for p in loc if p not in ("action", "delay", "condition", "shared_flow", "webhook")]
    return "/" + "/".join(parts) if parts else ""


def parse_definition(raw: JSONValue) -> WorkflowDefinition:
    """Validate a definition's shape and graph, raising DefinitionError naming each problem."""
    try:
        definition = WorkflowDefinition.model_validate(raw)
    except PydanticValidationError as exc:
        errors = [
            {"pointer": _pointer(tuple(e["loc"])), "message": e["msg"], "value": e.get("input")}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise definition_error(errors) from exc
    errors = graph_errors(definition)
    if errors:
        raise definition_error(errors)
    return definition


def definition_error(errors: list[JSONObject]) -> DefinitionError:
    """One error for a list of problems, headed by the first, each with its pointer and value."""
    first = errors[0]
    return DefinitionError(
        f"invalid definition at {first['pointer'] or '/'}: {first['message']}",
        field=first["pointer"],
        errors=[{**e, "value": _jsonable(e.get("value"))} for e in errors],
    )


def _jsonable(value: object) -> JSONValue:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def graph_errors(definition: WorkflowDefinition) -> list[JSONObject]:
    """Check ids, edges, reachability, rules and templates of a well-shaped definition."""
    errors: list[JSONObject] = []
    ids: dict[str, int] = {}
    for i, node in enumerate(definition.nodes):
        if node.id in ids:
            errors.append({"pointer": f"/nodes/{i}/id", "message": f"duplicate node id {node.id!r}", "value": node.id})
        ids.setdefault(node.id, i)
    if definition.start not in ids:
        errors.append(
            {
                "pointer": "/start",
                "message": f"start node {definition.start!r} does not exist",
                "value": definition.start,
            }
        )
    for i, node in enumerate(definition.nodes):
        errors.extend(_edge_errors(i, node, ids))
        errors.extend(_node_content_errors(i, node))
    if definition.start in ids:
        reachable = _reachable(definition)
        for node_id, i in ids.items():
            if node_id not in reachable:
                errors.append(
                    {
                        "pointer": f"/nodes/{i}",
                        "message": f"node {node_id!r} is unreachable from the start",
                        "value": node_id,
                    }
                )
    return errors


def _edge_errors(i: int, node: _Node, ids: dict[str, int]) -> list[JSONObject]:
    fields = ("next", "then", "else_") if isinstance(node, ConditionNode) else ("next",)
    errors: list[JSONObject] = []
    for name in fields:
        target = getattr(node, name)
        if target is not None and target not in ids:
            key = name.rstrip("_")
            errors.append(
                {"pointer": f"/nodes/{i}/{key}", "message": f"node {target!r} does not exist", "value": target}
            )
    return errors


def _node_content_errors(i: int, node: _Node) -> list[JSONObject]:
    errors: list[JSONObject] = []
    if isinstance(node, ConditionNode):
        try:
            _RULES.compile_checked(node.rule)
        except (datalogic_py.CompileError, datalogic_py.ParseError) as exc:
            for d in getattr(exc, "diagnostics", []) or [{"pointer": "", "message": str(exc)}]:
                errors.append(
                    {
                        "pointer": f"/nodes/{i}/rule{d.get('pointer') or ''}",
                        "message": f"invalid JSON Logic rule: {d['message']}",
                        "value": node.rule,
                    }
                )
    templated: dict[str, JSONValue] = {}
    if isinstance(node, ActionNode):
        templated["params"] = node.params
    elif isinstance(node, DelayNode) and node.until is not None:
        templated["until"] = node.until
    elif isinstance(node, SharedFlowNode):
        templated["input"] = node.input
    elif isinstance(node, WebhookNode):
        templated.update(url=node.url, headers=node.headers, body=node.body)
    for name, value in templated.items():
        for pointer, message in template_errors(value, f"/nodes/{i}/{name}"):
            errors.append({"pointer": pointer, "message": f"invalid template: {message}", "value": None})
    return errors


def _reachable(definition: WorkflowDefinition) -> set[str]:
    seen: set[str] = set()
    stack = [definition.start]
    by_id = {n.id: n for n in definition.nodes}
    while stack:
        node_id = stack.pop()
        if node_id in seen or node_id not in by_id:
            continue
        seen.add(node_id)
        stack.extend(by_id[node_id].successors())
    return seen


def compile_rule(rule: JSONValue) -> datalogic_py.Rule:
    """Compile a JSON Logic rule once, for evaluation many times."""
    return _RULES.compile(rule)


def is_truthy(value: JSONValue) -> bool:
    """Apply JSON Logic's truthiness to a rule's result."""
    return bool(_RULES.truthy(value))
