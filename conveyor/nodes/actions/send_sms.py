"""The send_sms action: hand a text message to the SMS transport, once per step."""

from __future__ import annotations

from pydantic import BaseModel, Field

from conveyor.definitions import DELIVERY_RETRY
from conveyor.errors import StepError
from conveyor.failpoints import Point, fail
from conveyor.jsonvalue import JSONValue
from conveyor.nodes.actions.context import ActionContext
from conveyor.nodes.actions.registry import action
from conveyor.services.sms_transports import TextMessage
from conveyor.store import connection
from conveyor.store.delivery import DELIVERED, DeliveryStatus
from conveyor.store.sms import mark_sms, reserve_sms


class SmsParams(BaseModel):
    """The recipient and the text."""

    to: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$", description="the recipient's number in E.164 form: +15551234567")
    body: str = Field(min_length=1, max_length=1600, description="the text, at most 1,600 characters")


@action("send_sms", params=SmsParams, category="messaging", default_retry=DELIVERY_RETRY)
async def send_sms(message: SmsParams, ctx: ActionContext) -> JSONValue:
    """Send a text message; a retry or crash re-run of the same step never sends twice once sent."""
    pool, transport = ctx.services.pool, ctx.services.sms_transport
    redactor = ctx.step.redactor
    async with connection(pool) as conn:
        log = await reserve_sms(
            conn,
            ctx.execution_id,
            ctx.idempotency_key,
            ctx.node_id,
            message.to,
            redactor.text(message.body),
            transport.name,
        )
    if log.status in DELIVERED:
        ctx.log.info("sms_already_sent", provider_id=log.provider_id)
        return {"to": message.to, "status": log.status, "provider_id": log.provider_id}
    outgoing = TextMessage(ctx.idempotency_key, ctx.services.sms_sender, message.to, message.body)
    try:
        status, provider_id = await transport.deliver(outgoing)
    except Exception as exc:
        async with connection(pool) as conn:
            await mark_sms(conn, log, DeliveryStatus.FAILED, error=redactor.text(str(exc))[:1000])
        if isinstance(exc, StepError):
            raise
        raise StepError(f"sms delivery failed: {exc}") from exc
    async with connection(pool) as conn:
        fail(Point.STEP_WRITE)
        await mark_sms(conn, log, status, provider_id)
    ctx.log.info("sms_sent", transport=transport.name, status=str(status), provider_id=provider_id)
    return {"to": message.to, "status": str(status), "provider_id": provider_id}
