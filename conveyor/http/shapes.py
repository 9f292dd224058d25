"""The resource shapes of the API, built from the store's records."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from conveyor.commands.action_checks import MissingSecret
from conveyor.definitions import WorkflowDefinition
from conveyor.errors import DefinitionError
from conveyor.graph import definition_edges
from conveyor.http.resources import (
    EmailAnswer,
    ExecutionAnswer,
    GraphAnswer,
    GraphEdgeAnswer,
    GraphNodeAnswer,
    HistoryAnswer,
    SavedWorkflowAnswer,
    SlotWaitAnswer,
    StepAnswer,
    TemplateAnswer,
    TransitionAnswer,
    TriggerAnswer,
    TriggerRows,
    VersionAnswer,
    WaitingAnswer,
    WarningAnswer,
    WebhookCallAnswer,
    WorkerWaitAnswer,
    WorkflowAnswer,
)
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.kinds import load_definition
from conveyor.redaction import KNOWN
from conveyor.store.claims import SlotWait
from conveyor.store.emails import EmailLog
from conveyor.store.executions import Execution
from conveyor.store.feed import HistoryEvent
from conveyor.store.history import HistoryEntry, Step
from conveyor.store.templates import EmailTemplate
from conveyor.store.triggers import Trigger
from conveyor.store.webhooks import LoggedWebhookCall
from conveyor.store.workflows import Workflow, WorkflowVersion
from conveyor.triggers.kinds import parse_trigger
from conveyor.wording import Waiting, history_words


def json_default(value: Any) -> Any:
    """Serialise what the json module does not know: answer models, dates, times and UUIDs."""
    if isinstance(value, BaseModel):
        # As the instance's own class: a page's items are declared by a type variable.
        return value.model_dump(mode="python", by_alias=True, serialize_as_any=True)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def respond(body: Any, status: int = 200) -> web.Response:
    """A JSON answer: an answer model as its schema says, or JSON that may hold datetimes and UUIDs; with no
    known secret value in it."""
    return web.json_response(
        body, status=status, dumps=lambda v: KNOWN.redactor.text(json.dumps(v, default=json_default))
    )


def workflow_shape(w: Workflow) -> WorkflowAnswer:
    """A workflow resource."""
    return WorkflowAnswer(
        id=w.id,
        name=w.name,
        description=w.description,
        version=w.version,
        active=w.active,
        definition=w.definition,
        created_at=w.created_at,
        updated_at=w.updated_at,
    )


def saved_workflow_shape(w: Workflow, missing: Sequence[MissingSecret] = ()) -> SavedWorkflowAnswer:
    """A workflow as created or versioned: the resource, and a warning per literal credential in it and per
    secret one of its actions declares that does not exist."""
    warnings = [
        WarningAnswer(code="literal_credential", message=found.message, field=found.pointer)
        for found in load_definition(w.definition).warnings()
    ]
    warnings += [WarningAnswer(code="missing_secret", message=m.message, field=m.pointer) for m in missing]
    return SavedWorkflowAnswer(**workflow_shape(w).model_dump(), warnings=warnings)


def version_shape(v: WorkflowVersion) -> VersionAnswer:
    """One version of a workflow, with its graph."""
    return VersionAnswer(
        workflow_id=v.workflow_id,
        version=v.version,
        definition=v.definition,
        graph=_stored_graph(v.definition),
        draft=v.draft,
        created_at=v.created_at,
    )


def _stored_graph(definition: JSONObject) -> GraphAnswer | None:
    """A stored version's graph; None for one that today's kinds no longer read (saved under older rules)."""
    try:
        return graph_shape(load_definition(definition))
    except DefinitionError:
        return None


def graph_shape(definition: WorkflowDefinition) -> GraphAnswer:
    """A definition's graph, its edges as the node kinds declare them."""
    return GraphAnswer(
        start=definition.start,
        nodes=[GraphNodeAnswer(id=n.id, type=n.type) for n in definition.nodes],
        edges=[GraphEdgeAnswer(source=e.source, target=e.target, kind=e.kind) for e in definition_edges(definition)],
    )


def template_shape(t: EmailTemplate) -> TemplateAnswer:
    """An email template."""
    return TemplateAnswer(
        name=t.name,
        subject=t.subject,
        text_body=t.text_body,
        html_body=t.html_body,
        updated_at=t.updated_at,
    )


def execution_shape(e: Execution, waiting: SlotWait | None = None, rest: Waiting | None = None) -> ExecutionAnswer:
    """An execution resource; `waiting`: the concurrency cap it is due but held back by; `rest`: what it waits
    for, in words (read for one execution, not for lists)."""
    return ExecutionAnswer(
        id=e.id,
        workflow_id=e.workflow_id,
        workflow_version=e.workflow_version,
        state=e.state,
        current_node=e.current_node,
        input=e.input,
        output=e.output,
        error=e.error,
        attempt=e.attempt,
        priority=e.priority,
        wake_at=e.wake_at if e.lease_owner is None else None,
        parent_id=e.parent_id,
        trigger_id=e.trigger_id,
        pause_requested=e.pause_requested,
        created_at=e.created_at,
        started_at=e.started_at,
        finished_at=e.finished_at,
        concurrency_key=e.slot_key,
        waiting_for_slot=SlotWaitAnswer(key=waiting.key, limit=waiting.limit) if waiting else None,
        waiting_for_worker=WorkerWaitAnswer(action=e.action) if e.waiting_for_worker else None,
        waiting=WaitingAnswer.model_validate(rest, from_attributes=True) if rest else None,
    )


def history_shape(h: HistoryEntry) -> HistoryAnswer:
    """A history entry: its fields, by name, and in words."""
    words = history_words(h.event, h.node, h.detail)
    return HistoryAnswer.model_validate(h, from_attributes=True).model_copy(update={"words": words})


def step_shape(s: Step) -> StepAnswer:
    """A step attempt: its fields, by name."""
    return StepAnswer.model_validate(s, from_attributes=True)


def email_shape(e: EmailLog) -> EmailAnswer:
    """An email log entry."""
    return EmailAnswer(
        id=e.id,
        execution_id=e.execution_id,
        node=e.node,
        to=e.recipient,
        subject=e.subject,
        template=e.template,
        status=e.status,
        transport=e.transport,
        error=e.error,
        created_at=e.created_at,
        sent_at=e.sent_at,
    )


def trigger_shape(t: Trigger) -> TriggerAnswer:
    """A trigger resource, with its health; write-only fields (a webhook's secret) left out."""
    model = parse_trigger(t.definition)
    return TriggerAnswer(
        id=t.id,
        workflow_id=t.workflow_id,
        type=t.type,
        definition=model.public(t.definition),
        enabled=t.enabled,
        version=t.version,
        status=t.status,
        last_fired_at=t.last_fired_at,
        next_run_at=t.next_run_at,
        next_run_local=model.local(t.next_run_at) if t.next_run_at else None,
        cursor=t.cursor,
        pending=t.pending,
        lag_seconds=t.lag_seconds,
        held_seconds=t.held_seconds,
        rows=TriggerRows(started=t.started_rows, filtered=t.filtered_rows, error=t.error_rows),
        skipped=t.skipped,
        last_error=t.last_error,
        error_since=t.error_since,
        created_at=t.created_at,
        updated_at=t.updated_at,
    )


def transition_shape(e: HistoryEvent) -> TransitionAnswer:
    """A history entry as a live event: where it belongs, and its id to resume after."""
    return TransitionAnswer(
        id=e.id,
        execution_id=e.execution_id,
        workflow_id=e.workflow_id,
        **history_shape(e.entry).model_dump(),
    )


def webhook_call_shape(c: LoggedWebhookCall) -> WebhookCallAnswer:
    """A webhook call attempt."""
    return WebhookCallAnswer(
        id=c.id,
        node=c.node,
        attempt=c.attempt,
        method=c.method,
        url=c.url,
        idempotency_key=c.idempotency_key,
        status=c.status_code,
        error=c.error,
        duration_ms=c.duration_ms,
        response_body=c.response_body,
        at=c.created_at,
    )
