"""SMS transports: `log` records only; `http` posts to a provider in the shape common SMS REST APIs take."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import aiohttp

from conveyor.errors import PermanentStepError, StepError
from conveyor.store.delivery import DeliveryStatus

# A provider's answer is a small JSON document; more than this is not one.
_MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class TextMessage:
    """A message ready for a transport; `key` is the step's idempotency key."""

    key: str
    sender: str
    to: str
    body: str


class SmsTransport(Protocol):
    """Hands text messages to the outside world."""

    name: str

    async def deliver(self, message: TextMessage) -> tuple[DeliveryStatus, str | None]:
        """Send the message; return the status to record and the provider's message id."""
        ...


class LogSmsTransport:
    """Sends nothing: the sms_logs row and a log line are the whole delivery."""

    name = "log"

    async def deliver(self, message: TextMessage) -> tuple[DeliveryStatus, str | None]:
        """Deliver nothing: the caller's log line and sms_logs row record the message."""
        return DeliveryStatus.LOGGED, None


class HttpSmsTransport:
    """POSTs `To`, `From` and `Body` form-encoded with HTTP basic auth to a provider's messages endpoint (the
    shape of Twilio's and most others'), the step's key as `Idempotency-Key` so that a provider can drop a
    crash re-send; reads the message id from the answer's `sid` or `id`."""

    name = "http"

    def __init__(
        self,
        url: str,
        session: aiohttp.ClientSession,
        username: str | None = None,
        password: str | None = None,
        timeout_seconds: float = 30.0,
    ) -> None:
        self.url, self.session, self.timeout_seconds = url, session, timeout_seconds
        self.username, self._password = username, password

    async def deliver(self, message: TextMessage) -> tuple[DeliveryStatus, str | None]:
        """Send; a 4xx is the step's permanent failure, a 429 or 5xx a retryable one."""
        headers = {"Idempotency-Key": message.key, "Accept": "application/json"}
        if self.username:
            headers["Authorization"] = aiohttp.encode_basic_auth(self.username, self._password or "")
        form = {"To": message.to, "From": message.sender, "Body": message.body}
        async with self.session.post(
            self.url,
            data=form,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
        ) as answer:
            text = (await answer.content.read(_MAX_ANSWER_BYTES)).decode(errors="replace")
            if answer.status == 429 or answer.status >= 500:
                raise StepError(f"the SMS provider answered HTTP {answer.status}; will retry", status=answer.status)
            if answer.status >= 400:
                raise PermanentStepError(
                    f"the SMS provider refused the message: HTTP {answer.status}: {text[:200]}", status=answer.status
                )
        return DeliveryStatus.SENT, _message_id(text)


def _message_id(text: str) -> str | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    found = body.get("sid") or body.get("id") if isinstance(body, dict) else None
    return str(found)[:200] if found is not None else None
