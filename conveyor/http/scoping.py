"""A caller sees its own namespace only: another namespace's objects answer 404, as if they did not exist."""

from __future__ import annotations

import uuid

from aiohttp import web

from conveyor.errors import NotFoundError
from conveyor.http.auth import principal_of
from conveyor.http.bodies import path_uuid
from conveyor.store import Conn
from conveyor.store.executions import Execution, get_execution
from conveyor.store.triggers import Trigger, get_trigger


def namespace_of(request: web.Request) -> str:
    """The namespace the request acts in."""
    return principal_of(request).namespace


def _check(request: web.Request, namespace: str, what: str, found_id: uuid.UUID) -> None:
    if namespace != namespace_of(request):
        # The same answer as for an id nothing has: existence in another namespace is not told.
        raise NotFoundError(f"{what} {found_id} not found", field="id", value=str(found_id))


async def owned_execution(conn: Conn, request: web.Request, execution_id: uuid.UUID | None = None) -> Execution:
    """The execution the path names (or `execution_id`), if it is in the caller's namespace; 404 otherwise."""
    execution = await get_execution(conn, execution_id or path_uuid(request))
    _check(request, execution.namespace, "execution", execution.id)
    return execution


async def owned_trigger(conn: Conn, request: web.Request) -> Trigger:
    """The trigger the path names, if it is in the caller's namespace; 404 otherwise."""
    trigger = await get_trigger(conn, path_uuid(request))
    _check(request, trigger.namespace, "trigger", trigger.id)
    return trigger
