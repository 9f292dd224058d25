"""/actions: the catalog of actions, as workers published them: schemas, secrets, who provides each version."""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Annotated

from aiohttp import web
from pydantic import Field

from conveyor.commands.action_checks import LIVE_SECONDS
from conveyor.errors import NotFoundError
from conveyor.http.cursor import PageQuery, name_cursor, page_of
from conveyor.http.keys import POOL
from conveyor.http.operation import operation, query_of
from conveyor.http.resources import Answer, Page
from conveyor.http.shapes import respond
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions.registry import MAX_KEY_CHARS
from conveyor.store import connection
from conveyor.store.actions import PublishedAction, action_versions

routes = web.RouteTableDef()

_KEY_PARAMETER = {"key": Annotated[str, Field(max_length=MAX_KEY_CHARS)]}


class ActionVersionAnswer(Answer):
    """One version of an action: what it takes, returns and needs, and the live workers that provide it."""

    version: str
    params_schema: JSONObject
    output_schema: JSONObject | None
    secrets: list[str]
    template_param: str | None
    workers: list[str]
    first_seen_at: datetime
    last_seen_at: datetime


class ActionAnswer(Answer):
    """An action in the catalog. `provided`: some live worker runs it (else its steps wait for one);
    `conflict`: live workers provide different versions (a definition is checked against each)."""

    key: str
    display_name: str
    description: str
    category: str
    builtin: bool
    provided: bool
    conflict: bool
    versions: list[ActionVersionAnswer]


def _answer(versions: list[PublishedAction]) -> ActionAnswer:
    latest = max(versions, key=lambda v: v.last_seen_at)
    return ActionAnswer(
        key=latest.key,
        display_name=latest.display_name,
        description=latest.description,
        category=latest.category,
        builtin=latest.builtin,
        provided=any(v.workers for v in versions),
        conflict=sum(1 for v in versions if v.workers) > 1,
        versions=[ActionVersionAnswer.model_validate(v, from_attributes=True) for v in versions],
    )


def _by_key(found: list[PublishedAction]) -> list[ActionAnswer]:
    return [_answer(list(versions)) for _, versions in groupby(found, key=lambda v: v.key)]


@routes.get("/actions")
@operation(Page[ActionAnswer], query=PageQuery, errors=(422,))
async def get_actions(request: web.Request) -> web.Response:
    """Every published action in key order, a page at a time."""
    limit = query_of(request, PageQuery).limit
    async with connection(request.app[POOL]) as conn:
        found = await action_versions(conn, LIVE_SECONDS, after=name_cursor(request))
    return respond(page_of(_by_key(found), limit, lambda a: a, lambda a: (a.key,)))


@routes.get("/actions/{key}")
@operation(ActionAnswer, path=_KEY_PARAMETER, errors=(404,))
async def get_action(request: web.Request) -> web.Response:
    """One action with each of its versions."""
    async with connection(request.app[POOL]) as conn:
        found = await action_versions(conn, LIVE_SECONDS, keys=[request.match_info["key"]])
    if not found:
        raise NotFoundError("no worker has published this action", field="key")
    return respond(_answer(found))
