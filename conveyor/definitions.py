"""Workflow definitions: the node base model, and validation of the graph the nodes form.

The node kinds themselves are declared in `conveyor.nodes`, each in its own module; the union of them
is built from those declarations by `definition_parser`.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, field_validator
from pydantic import ValidationError as PydanticValidationError

from conveyor.cancellation import CancelOn
from conveyor.concurrency import Concurrency
from conveyor.durations import parse_duration
from conveyor.errors import DefinitionError
from conveyor.input_schema import schema_problem
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.runaway import runaway_errors
from conveyor.secret_references import SecretUse, secret_uses
from conveyor.sendable import LiteralCredential, Sendable, allowed, literal_credentials
from conveyor.templating import template_errors
from conveyor.validation_messages import problems

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
# A workflow's own retention of its finished executions: a positive duration.
Retention = Annotated[Duration, Field(gt=timedelta(0))]
NODE_ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]


class RetryPolicy(BaseModel):
    """How often and how far apart a failing step is tried again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff: Literal["fixed", "exponential"] = "exponential"
    delay: Duration = timedelta(seconds=1)
    max_delay: Duration = timedelta(minutes=5)
    jitter: bool = True


# What a node that delivers to the outside (a webhook, send_email, send_sms) retries when it declares no `retry`
# of its own: three attempts, 2 s then about 4 s apart. Each carries the step's idempotency key, so a peer that
# took an attempt whose answer was lost sees the same key again; `"retry": {"max_attempts": 1}` turns it off.
DELIVERY_RETRY = RetryPolicy(max_attempts=3, delay=timedelta(seconds=2), max_delay=timedelta(minutes=1))


@dataclass(frozen=True, slots=True)
class Edge:
    """One outgoing edge of a node: where the node holds it (a JSON pointer from the node), where it leads (None:
    the execution ends that way) and its kind, the field that holds it, which the API's graph and the dashboard
    draw by."""

    pointer: str
    target: str | None
    kind: Literal["next", "then", "else", "on_event", "on_timeout", "on_error", "branches", "join", "branch"]


@dataclass(frozen=True, slots=True)
class Reference:
    """Something outside the definition that a node names, checked to exist when the definition is saved."""

    kind: Literal["workflow", "template", "secret", "action"]
    field: str
    name: str


class NodeModel(BaseModel):
    """What every node has; each kind adds its `type` literal and its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    type: str
    id: NodeId
    next: NodeId | None = None
    retry: RetryPolicy = RetryPolicy()
    timeout: Duration | None = None
    # Where the execution goes when this node's retries are spent, with `steps.<id>.error`, instead of failing.
    on_error: NodeId | None = None

    # The fields whose strings are `{{ … }}` templates, rendered with the execution's data.
    templated: ClassVar[tuple[str, ...]] = ()
    # The templated fields this kind sends as credentials: the only places a `{{ secrets.NAME }}` may be written.
    sendable: ClassVar[tuple[Sendable, ...]] = ()
    # Whether the node waits (a delay, a wait for an event): a cycle through one is paced, not a runaway.
    pacing: ClassVar[bool] = False

    @classmethod
    def type_name(cls) -> str:
        """The `type` this kind is written as, read off its literal."""
        [name] = typing.get_args(cls.model_fields["type"].annotation)
        return str(name)

    def outgoing(self) -> list[Edge]:
        """The edges this kind goes on by (a kind with other fields than `next` overrides it)."""
        return [Edge("/next", self.next, "next")]

    def edges(self) -> list[Edge]:
        """Every outgoing edge: the kind's own, and the error path when there is one."""
        error = [Edge("/on_error", self.on_error, "on_error")] if self.on_error is not None else []
        return [*self.outgoing(), *error]

    def successors(self) -> list[str]:
        """The node ids this node can lead to."""
        return [edge.target for edge in self.edges() if edge.target]

    def content_errors(self, pointer: str) -> list[JSONObject]:
        """Problems in this kind's own fields that its model alone cannot see."""
        return []

    def graph_errors(self, pointer: str, nodes: dict[str, NodeModel]) -> list[JSONObject]:
        """Problems in how this node sits in the graph (a join no branch reaches), once every edge leads somewhere."""
        return []

    def references(self) -> list[Reference]:
        """What this node names outside the definition."""
        return []

    def sendable_fields(self) -> tuple[Sendable, ...]:
        """Where this node sends credentials (a kind whose fields depend on its content overrides it)."""
        return self.sendable

    def secret_uses(self) -> list[SecretUse]:
        """Every use of `secrets` in this node's templates (pointers relative to the node), refused where the
        node does not send it."""
        sendables = self.sendable_fields()
        return [
            use if use.problem or allowed(sendables, use.pointer) else _misplaced(use, sendables)
            for name in self.templated
            for use in secret_uses(getattr(self, name), f"/{name}")
        ]

    def secret_references(self) -> list[Reference]:
        """The secrets this node's templates name where it may."""
        return [
            Reference("secret", use.pointer, use.name)
            for use in self.secret_uses()
            if use.name is not None and use.problem is None
        ]

    def literal_credentials(self) -> list[LiteralCredential]:
        """Credentials written literally in the fields this node sends them in."""
        fields = {name: getattr(self, name) for name in self.templated}
        return list(literal_credentials(self.sendable_fields(), fields))


def _misplaced(use: SecretUse, sendables: tuple[Sendable, ...]) -> SecretUse:
    where = ", ".join(s.pointer + ("/*" if s.shape == "headers" else "") for s in sendables) or "none in this node"
    problem = f"a secret may be used only where it is sent as a credential ({where}), never stored or transformed"
    return SecretUse(use.pointer, use.name, problem)


class OnFailure(BaseModel):
    """The workflow started, once per failure, when an execution of this one fails: an alert path."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    flow: str = Field(min_length=1, max_length=200)


class WorkflowDefinition(BaseModel):
    """A workflow: named nodes and the edges between them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = None
    start: NodeId
    # Narrowed by `definition_parser` to the discriminated union of the declared node kinds.
    nodes: Sequence[NodeModel] = Field(min_length=1)
    cancel_on: Sequence[CancelOn] = Field(default=(), max_length=20)
    # Caps on executions running at once: per rendered key, and in total (conveyor/concurrency.py).
    concurrency: Concurrency | None = None
    limit: int | None = Field(default=None, ge=1, le=100_000)
    # How long this workflow's finished executions are kept, instead of CONVEYOR_RETENTION.
    retention: Retention | None = None
    # Guards against a runaway: steps an execution takes and visits to one node (unset: CONVEYOR_MAX_STEPS and
    # CONVEYOR_MAX_VISITS), and a deadline from its start, past which it is cancelled even while it waits.
    max_steps: int | None = Field(default=None, ge=1, le=1_000_000)
    max_visits: int | None = Field(default=None, ge=1, le=1_000_000)
    timeout: Annotated[Duration, Field(gt=timedelta(0))] | None = None
    on_failure: OnFailure | None = None
    # The input it takes, as a JSON Schema: a start through the API is checked against it (conveyor/input_schema.py).
    input_schema: JSONObject | None = None

    @field_validator("input_schema")
    @classmethod
    def _usable_schema(cls, schema: JSONObject | None) -> JSONObject | None:
        problem = None if schema is None else schema_problem(schema)
        if problem:
            raise ValueError(problem)
        return schema

    @functools.cached_property
    def nodes_by_id(self) -> dict[str, NodeModel]:
        """The nodes by id, built once per definition: a step looks its node up in it a few times."""
        return {n.id: n for n in self.nodes}

    def node(self, node_id: str) -> NodeModel:
        """Look a node up by id."""
        return self.nodes_by_id[node_id]

    def warnings(self) -> list[LiteralCredential]:
        """Credentials written literally in the nodes (pointers from the definition's root)."""
        return [
            LiteralCredential(f"/nodes/{i}{found.pointer}", found.what)
            for i, node in enumerate(self.nodes)
            for found in node.literal_credentials()
        ]

    def references(self) -> Iterator[tuple[str, Reference]]:
        """Yield (JSON pointer, reference) for everything the nodes name outside the definition."""
        for i, node in enumerate(self.nodes):
            for ref in [*node.references(), *node.secret_references()]:
                yield f"/nodes/{i}{ref.field}", ref
        if self.on_failure is not None:
            yield "/on_failure/flow", Reference("workflow", "/flow", self.on_failure.flow)


@dataclass(frozen=True, slots=True)
class DefinitionParser:
    """Validates definitions whose nodes are of the given kinds."""

    model: type[WorkflowDefinition]
    tags: frozenset[str]

    def parse(self, raw: JSONValue) -> WorkflowDefinition:
        """Validate a definition to be saved: its shape, its graph and where it uses secrets, raising
        DefinitionError naming each problem."""
        definition = self.load(raw)
        errors = secret_errors(raw, definition)
        if errors:
            raise definition_error(errors)
        return definition

    def load(self, raw: JSONValue) -> WorkflowDefinition:
        """Validate a definition's shape and graph, as a stored one is read back: a use of a secret that the
        rules made since its save refuse fails the step that would make it (see `NodeModel.secret_uses`)."""
        try:
            definition = self.model.model_validate(raw)
        except PydanticValidationError as exc:
            raise definition_error(problems(exc, self._pointer, self.model)) from exc
        errors = graph_errors(definition)
        if errors:
            raise definition_error(errors)
        return definition

    def _pointer(self, loc: tuple[int | str, ...]) -> str:
        # pydantic puts the union tag into the location ("nodes", 0, "action", "next"); a pointer must not. Only
        # right after a node's index: a field may have a tag's name (an action node's "action").
        parts = [str(p) for i, p in enumerate(loc) if not (p in self.tags and i > 0 and isinstance(loc[i - 1], int))]
        return "/" + "/".join(parts) if parts else ""


def definition_parser(kinds: Iterable[type[NodeModel]]) -> DefinitionParser:
    """A parser for definitions made of these node kinds, told apart by `type`."""
    models = tuple(kinds)
    # A union built at run time from the kinds' declarations, which no static checker can follow.
    node: object = Annotated[typing.Union[models], Field(discriminator="type")]  # noqa: UP007
    model = create_model(
        "WorkflowDefinition",
        __base__=WorkflowDefinition,
        __doc__=WorkflowDefinition.__doc__,
        nodes=(list[node], Field(min_length=1)),  # type: ignore[valid-type]
    )
    return DefinitionParser(model, frozenset(m.type_name() for m in models))


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
    """Check ids, edges, reachability, kind-specific content and templates of a well-shaped definition."""
    errors: list[JSONObject] = []
    ids: dict[str, int] = {}
    for i, node in enumerate(definition.nodes):
        if node.id in ids:
            errors.append({"pointer": f"/nodes/{i}/id", "message": f"duplicate node id {node.id!r}", "value": node.id})
        ids.setdefault(node.id, i)
    if definition.start not in ids:
        start = definition.start
        errors.append({"pointer": "/start", "message": f"start node {start!r} does not exist", "value": start})
    for i, node in enumerate(definition.nodes):
        errors.extend(_node_errors(f"/nodes/{i}", node, ids))
    if definition.start in ids:
        reachable = _reachable(definition)
        errors.extend(
            {"pointer": f"/nodes/{i}", "message": f"node {node_id!r} is unreachable from the start", "value": node_id}
            for node_id, i in ids.items()
            if node_id not in reachable
        )
    if not errors:
        for i, node in enumerate(definition.nodes):
            errors.extend(node.graph_errors(f"/nodes/{i}", definition.nodes_by_id))
    if not errors:
        errors.extend(runaway_errors(definition.nodes, ids))
    return errors


def _node_errors(pointer: str, node: NodeModel, ids: dict[str, int]) -> list[JSONObject]:
    errors: list[JSONObject] = [
        {"pointer": f"{pointer}{edge.pointer}", "message": f"node {edge.target!r} does not exist", "value": edge.target}
        for edge in node.edges()
        if edge.target is not None and edge.target not in ids
    ]
    errors.extend(node.content_errors(pointer))
    for name in node.templated:
        for at, message in template_errors(getattr(node, name), f"{pointer}/{name}"):
            errors.append({"pointer": at, "message": f"invalid template: {message}", "value": None})
    return errors


def secret_errors(raw: JSONValue, definition: WorkflowDefinition) -> list[JSONObject]:
    """Each use of `secrets` a saved definition may not make: where no node sends it, or transformed."""
    errors: list[JSONObject] = [
        {"pointer": f"/nodes/{i}{use.pointer}", "message": f"invalid template: {use.problem}", "value": None}
        for i, node in enumerate(definition.nodes)
        for use in node.secret_uses()
        if use.problem is not None
    ]
    return errors + _stray_secrets(raw, definition)


def _stray_secrets(raw: JSONValue, definition: WorkflowDefinition) -> list[JSONObject]:
    """`secrets` named outside the nodes' templated fields (a key, a description, a rule): never rendered with
    secrets, so never sent."""
    if not isinstance(raw, dict):
        return []
    outside = {k: v for k, v in raw.items() if k != "nodes"}
    outside["nodes"] = [
        {k: v for k, v in node.items() if k not in model.templated}
        for node, model in zip(raw.get("nodes") or [], definition.nodes, strict=False)
        if isinstance(node, dict)
    ]
    message = "invalid template: a secret may be used only where a node sends it as a credential"
    return [{"pointer": use.pointer, "message": message, "value": None} for use in secret_uses(outside)]


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
