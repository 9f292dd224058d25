"""The send_email action: render a stored template and hand it to the transport, once per step."""

from __future__ import annotations

import contextlib
import uuid

from pydantic import BaseModel, ConfigDict, Field

from conveyor.definitions import DELIVERY_RETRY
from conveyor.errors import PermanentStepError, StepError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.nodes.actions.context import ActionContext
from conveyor.nodes.actions.registry import action
from conveyor.nodes.throttle import email_key, throttled
from conveyor.redaction import Redactor
from conveyor.render_thread import off_loop
from conveyor.services.email_transports import Delivery
from conveyor.store import connection
from conveyor.store.delivery import DELIVERED, DeliveryStatus
from conveyor.store.emails import OutgoingEmail, mark_email, reserve_email
from conveyor.store.templates import EmailContent, get_template
from conveyor.templating import render_string


class EmailParams(BaseModel):
    """The recipient and the stored template; any other param is handed to the template as `params`."""

    model_config = ConfigDict(extra="allow")

    to: str = Field(min_length=3, max_length=320, description="the recipient's address")
    template: str = Field(min_length=1, max_length=100, description="the name of a stored email template")


@action("send_email", params=EmailParams, category="messaging", template_param="template", default_retry=DELIVERY_RETRY)
async def send_email(message: EmailParams, ctx: ActionContext) -> JSONValue:
    """Render a stored template and send it; a retry or crash re-run of the same step never sends twice."""
    params: JSONObject = message.model_dump()
    to, template = message.to, message.template
    if "@" not in to:
        raise PermanentStepError(f"send_email needs a valid 'to' address, got {to!r}", field="params/to")
    pool, transport = ctx.services.pool, ctx.services.email_transport
    async with connection(pool) as conn:
        stored = await get_template(conn, template, ctx.step.namespace)
    # Off the event loop, like every render: see StepContext.render.
    content = await off_loop(_render, stored, {**ctx.data, "params": params})
    async with connection(pool) as conn:
        # The log row is what stays: a secret carried in through the params is sent, never stored.
        redactor = ctx.step.redactor
        logged = _redacted(content, redactor)
        recipient = redactor.text(to)
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


async def _deliver(ctx: ActionContext, email_id: uuid.UUID, to: str, content: EmailContent) -> str:
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
            await mark_email(conn, email_id, DeliveryStatus.FAILED, ctx.step.redactor.text(str(exc)))
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
