"""What operators, senders and the API do to triggers: create, change, switch, preview; post events and hooks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog

from conveyor.commands.operations import wait_for_end
from conveyor.errors import ConflictError, HookNotFoundError, TriggerDefinitionError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.schedule import preview
from conveyor.store import Conn, Pool, connection, transaction
from conveyor.store.executions import Execution
from conveyor.store.inbox import insert_delivery, insert_event, insert_signed_delivery
from conveyor.store.trigger_rows import TriggerRow, get_trigger_row
from conveyor.store.triggers import (
    Trigger,
    TriggerWrite,
    database_now,
    delete_trigger,
    get_trigger,
    get_trigger_by_path,
    insert_trigger,
    set_enabled,
    update_trigger,
    wake_workers,
)
from conveyor.store.workflows import get_workflow
from conveyor.triggers.base import TriggerModel
from conveyor.triggers.hook_signature import Proof
from conveyor.triggers.kinds import kind_of, parse_trigger
from conveyor.triggers.schedule import ScheduleTrigger

log = structlog.get_logger(__name__)


async def _write(
    conn: Conn, raw: JSONValue, allow_hosts: frozenset[str], previous: TriggerModel | None = None
) -> TriggerWrite:
    trigger = parse_trigger(raw)
    assert isinstance(raw, dict)
    raw = trigger.stored(raw)
    prepare = kind_of(trigger).prepare
    fresh = previous is None or previous.source() != trigger.source()
    cursor = await prepare(trigger, conn, allow_hosts) if prepare is not None and fresh else None
    first_run = trigger.first_run(await database_now(conn))
    return TriggerWrite(trigger.type, raw, trigger.hook_path(), trigger.event_type(), first_run, cursor, fresh)


async def create_trigger(
    pool: Pool,
    workflow_ref: str,
    raw: JSONValue,
    allow_hosts: frozenset[str] = frozenset(),
    namespace: str = DEFAULT_NAMESPACE,
) -> Trigger:
    """Validate a trigger and attach it, enabled, to the namespace's workflow; `allow_hosts` as
    CONVEYOR_WEBHOOK_ALLOW_HOSTS."""
    async with transaction(pool) as conn:
        workflow = await get_workflow(conn, workflow_ref, namespace)
        trigger_id = await insert_trigger(conn, workflow.id, await _write(conn, raw, allow_hosts))
        await wake_workers(conn)
        trigger = await get_trigger(conn, trigger_id)
    log.info("trigger_created", trigger_id=str(trigger.id), workflow=workflow.name, type=trigger.type)
    return trigger


async def patch_trigger(
    pool: Pool, trigger_id: uuid.UUID, patch: JSONValue, allow_hosts: frozenset[str] = frozenset()
) -> Trigger:
    """Merge a JSON merge patch (RFC 7386) into the definition and store the result as a new version."""
    if not isinstance(patch, dict):
        raise TriggerDefinitionError("a trigger patch must be a JSON object", field="")
    async with transaction(pool) as conn:
        current = await get_trigger(conn, trigger_id)
        merged = _merge(current.definition, patch)
        write = await _write(conn, merged, allow_hosts, parse_trigger(current.definition))
        await update_trigger(conn, trigger_id, write)
        await wake_workers(conn)
        trigger = await get_trigger(conn, trigger_id)
    log.info("trigger_updated", trigger_id=str(trigger_id), version=trigger.version)
    return trigger


def _merge(target: JSONValue, patch: JSONValue) -> JSONValue:
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge(merged.get(key), value)
    return merged


async def switch_trigger(pool: Pool, trigger_id: uuid.UUID, *, enabled: bool) -> Trigger:
    """Enable (due afresh from now, as ok) or disable a trigger; rows already in the inbox then go 'disabled'."""
    async with transaction(pool) as conn:
        current = await get_trigger(conn, trigger_id)
        model = parse_trigger(current.definition)
        next_run_at = model.first_run(await database_now(conn)) if enabled else None
        await set_enabled(conn, trigger_id, enabled, next_run_at)
        await wake_workers(conn)
        trigger = await get_trigger(conn, trigger_id)
    log.info("trigger_switched", trigger_id=str(trigger_id), enabled=enabled)
    return trigger


async def remove_trigger(pool: Pool, trigger_id: uuid.UUID) -> None:
    """Delete a trigger; its executions stay."""
    async with connection(pool) as conn:
        await delete_trigger(conn, trigger_id)
    log.info("trigger_deleted", trigger_id=str(trigger_id))


async def preview_trigger(pool: Pool, trigger_id: uuid.UUID, count: int) -> list[tuple[datetime, datetime]]:
    """The next `count` fires of a schedule trigger, each as (UTC, local time with its offset)."""
    async with connection(pool) as conn:
        trigger = await get_trigger(conn, trigger_id)
        now = await database_now(conn)
    model = parse_trigger(trigger.definition)
    if not isinstance(model, ScheduleTrigger):
        raise ConflictError(f"trigger {trigger_id} is a {trigger.type} trigger; only schedules have fires to preview")
    return preview(model.cron, model.timezone, now, count)


async def post_event(
    pool: Pool, type_: str, payload: JSONObject, dedupe_key: str | None, namespace: str = DEFAULT_NAMESPACE
) -> list[int]:
    """One inbox row per event trigger of this type in the namespace, enabled or not (a known dedupe key: the
    rows stored before); waits match the event in the namespace only."""
    async with connection(pool) as conn:
        ids = await insert_event(conn, namespace, type_, payload, dedupe_key)
    log.info("event_received", event_type=type_, rows=len(ids))
    return ids


async def find_hook(conn: Conn, path: str) -> tuple[Trigger, TriggerModel]:
    """The enabled webhook trigger answering at this path."""
    trigger = await get_trigger_by_path(conn, path)
    if trigger is None or not trigger.enabled:
        raise HookNotFoundError(field="path")
    return trigger, parse_trigger(trigger.definition)


async def deliver_hook(
    pool: Pool, trigger_id: uuid.UUID, payload: JSONObject, delivery: str | None, proof: Proof | None = None
) -> tuple[int | None, bool]:
    """Store a webhook delivery as one inbox row, committed on return; True when it is new.

    A signed delivery is keyed by what its signature covers and remembered until the signature is stale, so a
    replay of it writes nothing (its row id is told while the inbox keeps the row)."""
    async with connection(pool) as conn:
        row_id: int | None
        if proof is None:
            row_id, new = await insert_delivery(conn, trigger_id, "webhook", payload, delivery)
        else:
            row_id, new = await insert_signed_delivery(conn, trigger_id, payload, proof.key, proof.until)
    log.info("hook_received", trigger_id=str(trigger_id), row_id=row_id, new=new)
    return row_id, new


@dataclass(frozen=True, slots=True)
class Answered:
    """What became of a delivery within a wait: its row (None once deleted), and its execution as it then was."""

    row: TriggerRow | None
    execution: Execution | None


async def await_delivery(pool: Pool, row_id: int, timeout_seconds: float) -> Answered:
    """Wait until the delivery's row has an outcome and any execution it started has ended, or the time is up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        async with connection(pool) as conn:
            row = await get_trigger_row(conn, row_id)
        # a coalesced row names its execution only once its group starts
        settled = row is None or (row.consumed_at is not None and (row.outcome != "coalesced" or row.execution_id))
        if settled or loop.time() >= deadline:
            break
        await asyncio.sleep(min(0.05, max(deadline - loop.time(), 0)))
    if row is None or row.execution_id is None:
        return Answered(row, None)
    return Answered(row, await wait_for_end(pool, row.execution_id, max(deadline - loop.time(), 0)))
