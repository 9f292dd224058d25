"""The resource shapes of the API, built from the store's records."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from conveyor.jsonvalue import JSONObject
from conveyor.store.emails import EmailLog
from conveyor.store.executions import Execution
from conveyor.store.feed import HistoryEvent
from conveyor.store.history import HistoryEntry, Step
from conveyor.store.workflows import Workflow


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


def execution_shape(e: Execution) -> JSONObject:
    """An execution resource."""
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
        "pause_requested": e.pause_requested,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "finished_at": e.finished_at,
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


def transition_shape(e: HistoryEvent) -> JSONObject:
    """A history entry as a live event: where it belongs, and its id to resume after."""
    return {"id": e.id, "execution_id": e.execution_id, "workflow_id": e.workflow_id, **history_shape(e.entry)}
