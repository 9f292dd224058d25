"""The resource shapes of the API, built from the store's records."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from conveyor.jsonvalue import JSONObject
from conveyor.store.claims import SlotWait
from conveyor.store.emails import EmailLog
from conveyor.store.executions import Execution
from conveyor.store.feed import HistoryEvent
from conveyor.store.history import HistoryEntry, Step
from conveyor.store.templates import EmailTemplate
from conveyor.store.triggers import Trigger
from conveyor.store.workflows import Workflow, WorkflowVersion
from conveyor.triggers.kinds import parse_trigger


def json_default(value: Any) -> Any:
    """Serialise what the json module does not know: datetimes and UUIDs."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def respond(body: Any, status: int = 200) -> web.Response:
    """A JSON answer that knows datetimes and UUIDs."""
    return web.json_response(body, status=status, dumps=lambda v: json.dumps(v, default=json_default))


def workflow_shape(w: Workflow) -> JSONObject:
    """A workflow resource."""
    return {
        "id": w.id,
        "name": w.name,
        "description": w.description,
        "version": w.version,
        "active": w.active,
        "definition": w.definition,
        "created_at": w.created_at,
        "updated_at": w.updated_at,
    }


def version_shape(v: WorkflowVersion) -> JSONObject:
    """One version of a workflow."""
    return {"workflow_id": v.workflow_id, "version": v.version, "definition": v.definition, "created_at": v.created_at}


def template_shape(t: EmailTemplate) -> JSONObject:
    """An email template."""
    return {
        "name": t.name,
        "subject": t.subject,
        "text_body": t.text_body,
        "html_body": t.html_body,
        "updated_at": t.updated_at,
    }


def execution_shape(e: Execution, waiting: SlotWait | None = None) -> JSONObject:
    """An execution resource; `waiting`: the concurrency cap it is due but held back by."""
    return {
        "id": e.id,
        "workflow_id": e.workflow_id,
        "workflow_version": e.workflow_version,
        "state": e.state,
        "current_node": e.current_node,
        "input": e.input,
        "output": e.output,
        "error": e.error,
        "attempt": e.attempt,
        "wake_at": e.wake_at if e.lease_owner is None else None,
        "parent_id": e.parent_id,
        "trigger_id": e.trigger_id,
        "pause_requested": e.pause_requested,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "finished_at": e.finished_at,
        "concurrency_key": e.slot_key,
        "waiting_for_slot": {"key": waiting.key, "limit": waiting.limit} if waiting else None,
    }


def history_shape(h: HistoryEntry) -> JSONObject:
    """A history entry."""
    return {
        "from": h.from_state,
        "to": h.to_state,
        "event": h.event,
        "node": h.node,
        "attempt": h.attempt,
        "detail": h.detail,
        "at": h.at,
    }


def step_shape(s: Step) -> JSONObject:
    """A step attempt."""
    return {
        "node": s.node,
        "visit": s.visit,
        "attempt": s.attempt,
        "status": s.status,
        "input": s.input,
        "output": s.output,
        "error": s.error,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
    }


def email_shape(e: EmailLog) -> JSONObject:
    """An email log entry."""
    return {
        "id": e.id,
        "execution_id": e.execution_id,
        "node": e.node,
        "to": e.recipient,
        "subject": e.subject,
        "template": e.template,
        "status": e.status,
        "transport": e.transport,
        "error": e.error,
        "created_at": e.created_at,
        "sent_at": e.sent_at,
    }


def trigger_shape(t: Trigger) -> JSONObject:
    """A trigger resource, with its health; write-only fields (a webhook's secret) left out."""
    model = parse_trigger(t.definition)
    return {
        "id": t.id,
        "workflow_id": t.workflow_id,
        "type": t.type,
        "definition": model.public(t.definition),
        "enabled": t.enabled,
        "version": t.version,
        "status": t.status,
        "last_fired_at": t.last_fired_at,
        "next_run_at": t.next_run_at,
        "next_run_local": model.local(t.next_run_at) if t.next_run_at else None,
        "cursor": t.cursor,
        "pending": t.pending,
        "lag_seconds": t.lag_seconds,
        "rows": {"started": t.started_rows, "filtered": t.filtered_rows, "error": t.error_rows},
        "skipped": t.skipped,
        "last_error": t.last_error,
        "error_since": t.error_since,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


def transition_shape(e: HistoryEvent) -> JSONObject:
    """A history entry as a live event: where it belongs, and its id to resume after."""
    return {"id": e.id, "execution_id": e.execution_id, "workflow_id": e.workflow_id, **history_shape(e.entry)}
