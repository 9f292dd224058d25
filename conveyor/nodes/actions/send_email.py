"""The send_email action: render a stored template and hand it to the transport, once per step."""

from __future__ import annotations

import contextlib
import uuid

from conveyor.errors import PermanentStepError, StepError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.base import StepContext
from conveyor.nodes.email_transports import Delivery
from conveyor.nodes.throttle import email_key, throttled
from conveyor.redaction import Redactor
from conveyor.render_thread import off_loop
from conveyor.store import connection
from conveyor.store.emails import DELIVERED, EmailStatus, OutgoingEmail, mark_email, reserve_email
from conveyor.store.templates import EmailContent, get_template
from conveyor.templating import render_string


async def send_email(params: JSONObject, ctx: StepContext) -> JSONValue:
    """Send `template` to `to`; a retry or crash re-run of the same step never sends twice once sent."""
    to, template = params.get("to"), params.get("template")
    if not isinstance(to, str) or "@" not in to:
        raise PermanentStepError(f"send_email needs a valid 'to' address, got {to!r}", field="params.to")
    if not isinstance(template, str):
        raise PermanentStepError("send_email needs a 'template' name", field="params.template")
    pool, transport = ctx.services.pool, ctx.services.email_transport
    async with connection(pool) as conn:
        stored = await get_template(conn, template)
    # Off the event loop, like every render: see StepContext.render.
    content = await off_loop(_render, stored, {**ctx.data, "params": params})
    async with connection(pool) as conn:
        # The log row is what stays: a secret carried in through the params is sent, never stored.
        logged = _redacted(content, ctx.redactor)
        recipient = ctx.redactor.text(to)
        email = OutgoingEmail(
            ctx.execution_id, ctx.node_id, ctx.idempotency_key, recipient, template, logged, transport.name
        )
        record = await reserve_email(conn, email)
    result: JSONObject = {"email_id": str(record.id), "to": to, "template": template}
    if record.status in DELIVERED:
        ctx.log.info("email_already_sent", email_id=str(record.id))
        return {**result, "status": record.status}
    rate = ctx.services.email_rate
    async with contextlib.AsyncExitStack() as stack:
        if rate is not None:
            await stack.enter_async_context(throttled(pool, email_key(rate, to), rate, ctx.idempotency_key))
        status = await _deliver(ctx, record.id, to, content)
    ctx.log.info(
        "email_sent",
        email_id=str(record.id),
        transport=transport.name,
        template=template,
        status=status,
        to=recipient,
        subject=logged.subject,
    )
    return {**result, "status": status}


async def _deliver(ctx: StepContext, email_id: uuid.UUID, to: str, content: EmailContent) -> str:
    pool, transport = ctx.services.pool, ctx.services.email_transport
    delivery = Delivery(
        message_id=f"<{ctx.idempotency_key.replace(':', '.')}@conveyor>",
        sender=ctx.services.email_sender,
        to=to,
        content=content,
    )
    try:
        status = await transport.deliver(delivery)
    except Exception as exc:
        async with connection(pool) as conn:
            await mark_email(conn, email_id, EmailStatus.FAILED, ctx.redactor.text(str(exc)))
        raise StepError(f"email delivery failed: {exc}") from exc
    async with connection(pool) as conn:
        fail(Point.STEP_WRITE)
        await mark_email(conn, email_id, status)
    return status


def _render(stored: EmailContent, context: JSONObject) -> EmailContent:
    return EmailContent(
        subject=render_string(stored.subject, context),
        text_body=render_string(stored.text_body, context),
        html_body=render_string(stored.html_body, context, html=True) if stored.html_body else None,
    )


def _redacted(content: EmailContent, redactor: Redactor) -> EmailContent:
    return EmailContent(
        subject=redactor.text(content.subject),
        text_body=redactor.text(content.text_body),
        html_body=redactor.text(content.html_body) if content.html_body else None,
    )
