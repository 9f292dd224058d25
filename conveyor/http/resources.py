"""The pydantic models of the API's answers: one per resource shape; the answers and /openapi.json both come
from these, so the two cannot drift."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.roles import ROLE_LABELS
from conveyor.statemachines import STATES
from conveyor.store.delivery import DeliveryStatus

T = TypeVar("T", bound=BaseModel)

# The sets come from their one declaration (the machine, the email status enum); the schema lists them.
State = Annotated[str, Field(json_schema_extra={"enum": list(STATES)})]
RoleName = Annotated[str, Field(json_schema_extra={"enum": list(ROLE_LABELS)})]
EmailStatusName = Annotated[str, Field(json_schema_extra={"enum": [s.value for s in DeliveryStatus]})]


class Answer(BaseModel):
    """An answer's model: immutable, and every field is in the schema as sent."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Page(Answer, Generic[T]):
    """A list answer: the items, and the cursor of the next page (null on the last)."""

    items: list[T]
    next_cursor: str | None = None


class ErrorDetail(Answer):
    """What went wrong: a stable code, a message for people, and details naming the offending field."""

    code: str
    message: str
    details: JSONObject


class ErrorAnswer(Answer):
    """Every error answer."""

    error: ErrorDetail


class WorkflowAnswer(Answer):
    """A workflow and its latest definition."""

    id: uuid.UUID
    name: str
    description: str | None
    version: int
    active: bool
    definition: JSONObject
    created_at: datetime
    updated_at: datetime


class WarningAnswer(Answer):
    """Something a saved resource does that works but should not: a stable code, a message, the field."""

    code: str
    message: str
    field: str


class SavedWorkflowAnswer(WorkflowAnswer):
    """A workflow as created or versioned, with the warnings about its definition (empty when none)."""

    warnings: list[WarningAnswer]


class GraphNodeAnswer(Answer):
    """A node of a definition's graph: its id and kind."""

    id: str
    type: str


class GraphEdgeAnswer(Answer):
    """An edge of a definition's graph; `kind` is the node's field that holds it (next, then, else, on_event,
    on_timeout, ...), as the node kind declares its edges."""

    source: str = Field(alias="from")
    target: str = Field(alias="to")
    kind: str


class GraphAnswer(Answer):
    """A definition as a graph: where it starts, its nodes, and every edge between them."""

    start: str
    nodes: list[GraphNodeAnswer]
    edges: list[GraphEdgeAnswer]


class VersionAnswer(Answer):
    """One immutable version of a workflow's definition, and its graph; a `draft` is used by no execution until
    published."""

    workflow_id: uuid.UUID
    version: int
    definition: JSONObject
    graph: GraphAnswer | None  # null for a version today's node kinds no longer read
    draft: bool
    created_at: datetime


class CheckedAnswer(Answer):
    """A definition that would be saved as it is: its graph, and what should change in it (`warnings`)."""

    graph: GraphAnswer
    warnings: list[WarningAnswer]


class TemplateAnswer(Answer):
    """An email template."""

    name: str
    subject: str
    text_body: str
    html_body: str | None
    updated_at: datetime


class SlotWaitAnswer(Answer):
    """The concurrency cap a due execution is held back by: its key (null: the workflow's total limit)."""

    key: str | None
    limit: int


class WorkerWaitAnswer(Answer):
    """Its next step runs one of the team's actions that no live worker provides: it runs once one starts."""

    action: str


class WaitingAnswer(Answer):
    """What a resting execution waits for, in words (`text`) and as data: `kind` is event (with `events`,
    `match`, `until`, `on_event`, `on_timeout`), sleep, child, throttle (`key`, `until`), slot (`key`, `limit`),
    worker (`action`) or retry (`until`)."""

    kind: str
    text: str
    node: str | None = None
    events: list[str] = []
    match: JSONValue = None
    until: datetime | None = None
    on_event: str | None = None
    on_timeout: str | None = None
    key: str | None = None
    limit: int | None = None
    action: str | None = None


class ExecutionAnswer(Answer):
    """One run of a workflow."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_version: int
    state: State
    current_node: str | None
    input: JSONValue
    output: JSONValue
    error: JSONValue
    attempt: int
    priority: int = 0
    wake_at: datetime | None
    parent_id: uuid.UUID | None
    trigger_id: uuid.UUID | None
    pause_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    concurrency_key: str | None = None
    waiting_for_slot: SlotWaitAnswer | None = None
    waiting_for_worker: WorkerWaitAnswer | None = None
    waiting: WaitingAnswer | None = None


class HistoryAnswer(Answer):
    """One transition of an execution: the machine's `event`, and what it means in `words`."""

    from_state: State = Field(alias="from")
    to_state: State = Field(alias="to")
    event: str
    node: str | None
    attempt: int
    detail: JSONObject | None
    at: datetime
    words: str = ""


class TransitionAnswer(HistoryAnswer):
    """A transition as a live event: where it belongs, and its id to resume after."""

    id: int
    execution_id: uuid.UUID
    workflow_id: uuid.UUID


class StepAnswer(Answer):
    """One attempt of one step."""

    node: str
    visit: int
    attempt: int
    status: str
    input: JSONValue
    output: JSONValue
    error: JSONValue
    started_at: datetime | None
    finished_at: datetime | None


class EmailAnswer(Answer):
    """An email a step sent, or is sending."""

    id: uuid.UUID
    execution_id: uuid.UUID | None
    node: str | None
    to: str
    subject: str
    template: str
    status: EmailStatusName
    transport: str
    error: str | None
    created_at: datetime
    sent_at: datetime | None


class TriggerRows(Answer):
    """What a trigger's inbox rows became."""

    started: int
    filtered: int
    error: int


class TriggerAnswer(Answer):
    """A trigger and its health; write-only fields (a webhook's secret) are left out."""

    id: uuid.UUID
    workflow_id: uuid.UUID
    type: str
    definition: JSONObject
    enabled: bool
    version: int
    status: str
    last_fired_at: datetime | None
    next_run_at: datetime | None
    next_run_local: datetime | None
    cursor: JSONValue
    pending: int
    lag_seconds: float | None
    # A table poll: how long the cursor's low mark has waited for open transactions (an interval or so normally).
    held_seconds: float | None
    rows: TriggerRows
    skipped: int
    last_error: str | None
    error_since: datetime | None
    created_at: datetime
    updated_at: datetime


class TriggerRowAnswer(Answer):
    """One inbox row of a trigger: its outcome (null while pending), the reason, and the execution it started."""

    id: int
    outcome: str | None
    reason: str | None
    execution_id: uuid.UUID | None
    dedupe_key: str | None
    payload: JSONValue
    created_at: datetime
    consumed_at: datetime | None


class StateCounts(Answer):
    """A count, and the same by the state each execution was in."""

    total: int
    by_state: dict[str, int]


class BulkAnswer(Answer):
    """What a bulk operation changed (or, in a dry run, would change)."""

    event: str
    dry_run: bool
    changed: StateCounts
    pause_requested: StateCounts = Field(description="running steps asked to pause once they commit")
    skipped: StateCounts = Field(description="executions whose state does not allow the event")
    busy: int = Field(description="held by another transaction, or moved out of the selection meanwhile")


class DeactivatedAnswer(WorkflowAnswer):
    """A deactivated workflow, and what cancelling its executions did (null unless asked)."""

    cancelled: BulkAnswer | None


class TransitionOfMachine(Answer):
    """One transition of the execution machine."""

    event: str
    from_state: State = Field(alias="from")
    to_state: State = Field(alias="to")


class StateMachineAnswer(Answer):
    """The execution machine as data, read off its one declaration."""

    states: list[State]
    initial: State
    terminal: list[State]
    events: list[str]
    operator_events: list[str]
    # The operator events asked for by name (a route each, bulk); `rerun` is a retry with `from_node`.
    operator_verbs: list[str]
    transitions: list[TransitionOfMachine]


class WorkflowStatisticsAnswer(Answer):
    """A workflow's executions per state (states with none are absent)."""

    workflow_id: uuid.UUID
    executions_by_state: dict[str, int]


class SecretAnswer(Answer):
    """A secret as the API shows it: its name, where it comes from and its last write, never its value."""

    name: str
    source: str
    updated_at: datetime | None


class WebhookCallAnswer(Answer):
    """A webhook call attempt: what was asked and how it ended; the request's headers are never kept."""

    id: int
    node: str | None
    attempt: int
    method: str
    url: str
    idempotency_key: str
    status: int | None
    error: str | None
    duration_ms: float | None
    response_body: str | None
    at: datetime


class AuditAnswer(Answer):
    """One entry of the audit trail: who changed what, when, from where."""

    id: int
    namespace: str
    at: datetime
    actor: str = Field(description='"key:<id>", "jwt:<subject>", "token" (CONVEYOR_API_TOKEN) or "anonymous"')
    action: str = Field(description='the request ("POST /workflows") or, per execution changed, the event')
    target: JSONObject | None = Field(description="the path's parameters and the id the answer named")
    execution_id: uuid.UUID | None
    status: int | None
    remote: str | None
    request_id: str | None


class KeyAnswer(Answer):
    """An API key as listed: never the key itself."""

    id: uuid.UUID
    namespace: str
    role: RoleName
    label: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class CreatedKeyAnswer(KeyAnswer):
    """A key just made: the only answer that shows it."""

    key: str = Field(description="the key; shown this once, stored only as a keyed hash")
