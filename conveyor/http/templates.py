"""/templates: the email templates send_email renders, checked in the sandbox when saved."""

from __future__ import annotations

import re
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from conveyor.errors import ValidationError
from conveyor.http.bodies import model_body
from conveyor.http.cursor import PageQuery, name_cursor, page_of
from conveyor.http.keys import POOL
from conveyor.http.operation import operation, query_of
from conveyor.http.resources import Page, TemplateAnswer
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import respond, template_shape
from conveyor.roles import Role
from conveyor.secret_references import secret_uses
from conveyor.store import connection
from conveyor.store.templates import EmailContent, get_email_template, list_templates, put_template
from conveyor.templating import check_template

routes = web.RouteTableDef()

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")
_MAX_TEMPLATE_CHARS = 100_000
_NAME_PARAMETER = {"name": Annotated[str, Field(pattern=f"^{_NAME.pattern}$")]}


class TemplateBody(BaseModel):
    """The body of PUT /templates/{name}."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=1000)
    text_body: str = Field(min_length=1, max_length=_MAX_TEMPLATE_CHARS)
    html_body: str | None = Field(default=None, max_length=_MAX_TEMPLATE_CHARS)


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not _NAME.fullmatch(name):
        raise ValidationError(
            "a template name is 1 to 100 letters, digits, '_', '.' or '-'", field="name", value=name[:200]
        )
    return name


def _check(body: TemplateBody) -> None:
    """Compile each part in the sandbox; a 422 names the first that does not, and its line."""
    for field in ("subject", "text_body", "html_body"):
        text = getattr(body, field)
        problem = check_template(text) if text is not None else None
        if problem is not None:
            where = f" on line {problem.line}" if problem.line is not None else ""
            raise ValidationError(
                f"invalid template in /{field}{where}: {problem.message}",
                field=f"/{field}",
                line=problem.line,
            )
        if text is not None and next(secret_uses(text), None) is not None:
            # An email is stored (email_logs) and read by its recipient: no secret is ever rendered into one.
            raise ValidationError(
                f"invalid template in /{field}: an email cannot use a secret; a secret may be used only where a "
                "node sends it as a credential",
                field=f"/{field}",
            )


@routes.get("/templates")
@operation(Page[TemplateAnswer], query=PageQuery, errors=(422,))
async def get_templates(request: web.Request) -> web.Response:
    """Templates in name order, a page at a time."""
    limit = query_of(request, PageQuery).limit
    after = name_cursor(request)
    async with connection(request.app[POOL]) as conn:
        templates = await list_templates(conn, namespace_of(request), after, limit + 1)
    return respond(page_of(templates, limit, template_shape, lambda t: (t.name,)))


@routes.get("/templates/{name}")
@operation(TemplateAnswer, path=_NAME_PARAMETER, errors=(404, 422))
async def get_one(request: web.Request) -> web.Response:
    """One template."""
    async with connection(request.app[POOL]) as conn:
        template = await get_email_template(conn, namespace_of(request), _name(request))
    return respond(template_shape(template))


@routes.put("/templates/{name}")
@operation(TemplateAnswer, also={201: TemplateAnswer}, path=_NAME_PARAMETER, body=TemplateBody, role=Role.EDITOR)
async def put_one(request: web.Request) -> web.Response:
    """Create or replace a template once it compiles in the sandbox; 201 when new."""
    name = _name(request)
    body = await model_body(request, TemplateBody)
    _check(body)
    async with connection(request.app[POOL]) as conn:
        content = EmailContent(body.subject, body.text_body, body.html_body)
        template, created = await put_template(conn, namespace_of(request), name, content)
    return respond(template_shape(template), status=201 if created else 200)
