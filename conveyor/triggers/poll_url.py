"""The URL poll trigger: new items of a JSON list at a URL, told apart by a key.

Each poll sends the last answer's `ETag` as `If-None-Match`, so an unchanged list costs a 304. Items whose key
was not seen before become inbox rows keyed `url:<key>`; the memory of seen keys is bounded (the most recent
SEEN_LIMIT), and the inbox's unique (trigger, dedupe key) stops a key from starting twice while its row is kept.
The URL passes the same address guard as the webhook node: when the trigger is saved (an address it refuses
is a 422 naming `/url`), and at every connection, since what a name resolves to may change; redirects are not
followed.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, ClassVar, Literal

import aiohttp
from pydantic import Field, field_validator
from yarl import URL

from conveyor.answers import AnswerTooLargeError, AnswerTooSlowError, read_answer
from conveyor.errors import TriggerDefinitionError
from conveyor.jsonvalue import JSONObject, JSONValue
from conveyor.sendable import Sendable, record
from conveyor.services import Services
from conveyor.services.webhook_guard import ForbiddenTargetError, check_host
from conveyor.store import Conn
from conveyor.triggers.base import Interval, Polled, PollFailedError, Tick, TriggerKind, TriggerModel

SEEN_LIMIT = 10_000
_TIMEOUT_SECONDS = 30.0

# A dotted path into the JSON answer ("" for the answer itself).
JsonPath = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9_-]{1,100}(?:\.[A-Za-z0-9_-]{1,100}){0,9})?$")]

# The URL a poll sends, credentials and all: its records conceal them (conveyor/sendable.py).
_SENT_URL = Sendable("/url", "url")


class UrlPollTrigger(TriggerModel):
    """Turn new items of a JSON list at a URL into inbox rows."""

    type: Literal["poll"]
    url: str = Field(max_length=2000)
    items: JsonPath = ""
    key: JsonPath
    interval: Interval

    selector: ClassVar[str | None] = "url"

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        try:
            target = URL(value)
        except ValueError as exc:
            raise ValueError(f"invalid URL {value[:100]!r}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise ValueError("the URL must be http(s) with a host")
        return value

    def first_run(self, now: datetime) -> datetime:
        """At once."""
        return now

    def every(self) -> timedelta:
        """The interval."""
        return self.interval

    def source(self) -> str:
        """The URL and where its items and keys are."""
        return f"{self.url} {self.items} {self.key}"


def _at(value: JSONValue, path: str) -> JSONValue:
    for part in path.split(".") if path else ():
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


async def _fetch(trigger: UrlPollTrigger, etag: str | None, services: Services) -> tuple[JSONValue, str | None]:
    target = URL(trigger.url)
    try:
        check_host(target.host or "", services.webhook_allow_hosts)
        headers = {"Accept": "application/json", **({"If-None-Match": etag} if etag else {})}
        timeout = aiohttp.ClientTimeout(total=_TIMEOUT_SECONDS)
        async with services.http.get(target, headers=headers, timeout=timeout, allow_redirects=False) as response:
            if response.status == 304:
                return None, etag
            if not 200 <= response.status < 300:
                raise PollFailedError(f"{trigger.url} answered HTTP {response.status}", url=trigger.url)
            raw = await read_answer(response, services.answers)
            return json.loads(raw), response.headers.get("ETag")
    except (ForbiddenTargetError, AnswerTooLargeError, AnswerTooSlowError) as exc:
        raise PollFailedError(exc.message, url=trigger.url) from exc
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PollFailedError(f"{trigger.url} could not be read: {type(exc).__name__}: {exc}", url=trigger.url) from exc
    except (ValueError, RecursionError) as exc:
        raise PollFailedError(f"{trigger.url} did not answer JSON: {exc}", url=trigger.url) from exc


async def prepare(trigger: UrlPollTrigger, conn: Conn, allow_hosts: frozenset[str]) -> JSONValue:
    """Refuse a URL the address guard would refuse at the first poll; start with nothing seen."""
    try:
        check_host(URL(trigger.url).host or "", allow_hosts)
    except ForbiddenTargetError as exc:
        raise TriggerDefinitionError(exc.message, field="/url", value=trigger.url) from exc
    return None


async def poll(trigger: UrlPollTrigger, cursor: JSONValue, services: Services) -> Polled:
    """Fetch the list; items with a key not seen before become rows. A failure names the URL as records may."""
    try:
        return await _poll(trigger, cursor, services)
    except PollFailedError as exc:
        raise _concealed(exc, trigger.url) from exc


def _concealed(exc: PollFailedError, url: str) -> PollFailedError:
    """The failure with a credential in its URL (a password, a token in the query) `«redacted»`: its message is
    the trigger's `last_error`, shown and logged."""
    shown = str(record(_SENT_URL, url))
    message = exc.message.replace(url, shown).replace(str(URL(url)), shown)
    return PollFailedError(message, **{**exc.details, "url": shown})


async def _poll(trigger: UrlPollTrigger, cursor: JSONValue, services: Services) -> Polled:
    state: JSONObject = cursor if isinstance(cursor, dict) else {}
    answer, etag = await _fetch(trigger, state.get("etag"), services)
    if answer is None:
        return Polled([], cursor)
    items = _at(answer, trigger.items)
    if not isinstance(items, list):
        raise PollFailedError(f"{trigger.url} has no list at {trigger.items or 'the top'!r}", url=trigger.url)
    seen: list[str] = [str(k) for k in state.get("seen", [])]
    known = set(seen)
    ticks = []
    for item in items:
        key = _at(item, trigger.key)
        if key is None or isinstance(key, dict | list) or str(key) in known:
            continue
        known.add(str(key))
        seen.append(str(key))
        ticks.append(Tick(f"url:{key}", item if isinstance(item, dict) else {"item": item}))
    return Polled(ticks, {"etag": etag, "seen": seen[-SEEN_LIMIT:]})


KIND = TriggerKind(UrlPollTrigger, poll=poll, prepare=prepare)
