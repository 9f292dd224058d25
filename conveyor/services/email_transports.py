"""Email transports: `log` records only, `smtp` delivers."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib

from conveyor.store.delivery import DeliveryStatus
from conveyor.store.templates import EmailContent


@dataclass(frozen=True, slots=True)
class Delivery:
    """An email ready for a transport."""

    message_id: str
    sender: str
    to: str
    content: EmailContent


class EmailTransport(Protocol):
    """Hands emails to the outside world."""

    name: str

    async def deliver(self, delivery: Delivery) -> DeliveryStatus:
        """Send the email; return the status to record."""
        ...


class LogTransport:
    """Sends nothing: the email log row and a log line are the whole delivery."""

    name = "log"

    async def deliver(self, delivery: Delivery) -> DeliveryStatus:
        """Deliver nothing: the caller's log line and email_logs row record the email."""
        return DeliveryStatus.LOGGED


class SmtpTransport:
    """Delivers over SMTP with aiosmtplib."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._host, self._port = host, port
        self._username, self._password = username, password
        self._starttls, self._timeout = starttls, timeout_seconds

    async def deliver(self, delivery: Delivery) -> DeliveryStatus:
        """Send the email; the Message-ID is the step's key, so receivers can drop a crash re-send."""
        message = EmailMessage()
        message["From"] = delivery.sender
        message["To"] = delivery.to
        message["Subject"] = delivery.content.subject
        message["Message-ID"] = delivery.message_id
        message.set_content(delivery.content.text_body)
        if delivery.content.html_body:
            message.add_alternative(delivery.content.html_body, subtype="html")
        await aiosmtplib.send(
            message,
            hostname=self._host,
            port=self._port,
            username=self._username,
            password=self._password,
            start_tls=self._starttls,
            timeout=self._timeout,
        )
        return DeliveryStatus.SENT
