"""Where a message's delivery stands, for every log of messages sent (email_logs, sms_logs: their CHECKs list the
same values)."""

from __future__ import annotations

import enum


class DeliveryStatus(enum.StrEnum):
    """Where a message's delivery stands."""

    SENDING = "sending"
    SENT = "sent"
    LOGGED = "logged"  # the log transport's "delivered": recorded, not sent
    FAILED = "failed"


DELIVERED = frozenset({DeliveryStatus.SENT, DeliveryStatus.LOGGED})
"""Delivered: a retry or a re-run after a crash must not send again."""
