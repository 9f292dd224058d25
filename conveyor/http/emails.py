"""/emails: the email log."""

from __future__ import annotations

from aiohttp import web

from conveyor.http.bodies import query_int, query_uuid
from conveyor.http.keys import POOL
from conveyor.http.shapes import email_shape, respond
from conveyor.store import connection
from conveyor.store.emails import list_emails

routes = web.RouteTableDef()


@routes.get("/emails")
async def get_emails(request: web.Request) -> web.Response:
    """Emails, oldest first, optionally of one execution (?execution=)."""
    execution_id = query_uuid(request, "execution")
    limit = query_int(request, "limit", 100, low=1, high=1000)
    async with connection(request.app[POOL]) as conn:
        emails = await list_emails(conn, execution_id, limit)
    return respond({"items": [email_shape(e) for e in emails], "next_cursor": None})
