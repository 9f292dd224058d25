"""The onboarding use case, runnable in one command: an application's tables, its flows, and new rows arriving.

`conveyor demo` plays the application: it creates a `subscriptions` and a `newsletters` table (its own, so its
SQL lives here, not in conveyor's store), one onboarding workflow per product type, table poll triggers
routing each row to its product's flow by a filter, and then inserts rows for a while. A while after each
subscription it may send the user's next event into the inbox, taking turns so every path shows: one
subscriber engages (`user.engaged`: the flow sends `value_highlight`), one stays silent (the wait times out:
`engagement_nudge`), one unsubscribes (`user.unsubscribed`: the execution is cancelled, nothing more is sent).
Everything it creates is created once: running it again reuses what is there and only adds rows.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

import structlog

from conveyor.commands.operations import create_workflow
from conveyor.commands.triggers import create_trigger
from conveyor.errors import ConflictError
from conveyor.jsonvalue import JSONObject
from conveyor.principal import DEFAULT_NAMESPACE
from conveyor.store import Pool, connection
from conveyor.store.statement import Statement
from conveyor.store.triggers import list_triggers
from conveyor.store.workflows import get_workflow

log = structlog.get_logger(__name__)

_TABLES = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    product    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS newsletters (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- What an operator does to let table polls read a table: grant it to the role they read as.
GRANT SELECT ON subscriptions, newsletters TO conveyor_poll;
"""
_SUBSCRIBE = Statement("INSERT INTO subscriptions (email, name, product) VALUES (:email, :name, :product)")
_SIGN_UP = Statement("INSERT INTO newsletters (email, name) VALUES (:email, :name)")
# An application's event: a row without trigger_id, seen by waits and cancel_on whether or not a trigger takes it.
_SEND_EVENT = Statement("INSERT INTO trigger_events (type, payload) VALUES (:type, :payload)")

PRODUCTS = ("united", "podcast", "magazine")
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus")
# Subscribers take these turns, so a short run shows every path; the event each one sends, if any.
FATES = ("engaged", "silent", "unsubscribed")
_FATE_EVENTS = {"engaged": "user.engaged", "unsubscribed": "user.unsubscribed"}
SAME_EMAIL: JSONObject = {"==": [{"var": "event.payload.email"}, {"var": "input.email"}]}


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A subscription the demo inserted, and what its user does next."""

    email: str
    product: str
    fate: str


def onboarding(product: str, welcome: str, wait: str) -> JSONObject:
    """Welcome now, then wait for the user to engage: a value email if they do, a nudge if `wait` passes first;
    an unsubscribe cancels the flow wherever it is."""
    to = "{{ input.email }}"
    return {
        "name": f"onboarding-{product}",
        "description": f"Onboarding for {product} subscriptions",
        "start": "welcome",
        "cancel_on": [{"event": "user.unsubscribed", "match": SAME_EMAIL}],
        "nodes": [
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": to, "template": welcome},
                "retry": {"max_attempts": 3, "delay": "2s"},
                "next": "engaged",
            },
            {
                "id": "engaged",
                "type": "wait_for_event",
                "events": ["user.engaged"],
                "match": SAME_EMAIL,
                "timeout": wait,
                "on_event": "value",
                "on_timeout": "nudge",
            },
            {
                "id": "nudge",
                "type": "action",
                "action": "send_email",
                "params": {"to": to, "template": "engagement_nudge"},
            },
            {
                "id": "value",
                "type": "action",
                "action": "send_email",
                "params": {"to": to, "template": "value_highlight"},
            },
        ],
    }


def newsletter() -> JSONObject:
    """One welcome email per newsletter sign-up."""
    params = {"to": "{{ input.email }}", "template": "newsletter_welcome"}
    return {
        "name": "newsletter",
        "start": "welcome",
        "nodes": [{"id": "welcome", "type": "action", "action": "send_email", "params": params}],
    }


def _flows(wait: str, interval: str) -> list[tuple[JSONObject, JSONObject]]:
    """Each workflow with the trigger that feeds it."""
    poll = {"type": "poll", "table": "subscriptions", "cursor": "id", "interval": interval}
    return [
        (onboarding("united", "united_welcome", wait), {**poll, "filter": {"==": [{"var": "product"}, "united"]}}),
        (onboarding("podcast", "podcast_welcome", wait), {**poll, "filter": {"==": [{"var": "product"}, "podcast"]}}),
        (
            onboarding("other", "generic_welcome", wait),
            {**poll, "filter": {"!": [{"in": [{"var": "product"}, ["united", "podcast"]]}]}},
        ),
        (newsletter(), {"type": "poll", "table": "newsletters", "cursor": "id", "interval": interval}),
    ]


async def set_up(pool: Pool, wait: str = "10s", interval: str = "2s") -> None:
    """Create the tables, the workflows and their triggers, each only if it is missing."""
    async with connection(pool) as conn:
        await conn.execute(_TABLES)
    for definition, trigger in _flows(wait, interval):
        try:
            workflow = await create_workflow(pool, definition)
        except ConflictError:
            async with connection(pool) as conn:
                workflow = await get_workflow(conn, str(definition["name"]), DEFAULT_NAMESPACE)
        async with connection(pool) as conn:
            has_trigger = bool(await list_triggers(conn, DEFAULT_NAMESPACE, workflow.id, None, 1))
        if not has_trigger:
            await create_trigger(pool, str(workflow.id), trigger)
    log.info("demo_ready", workflows=[str(d["name"]) for d, _ in _flows(wait, interval)])


async def insert_rows(
    pool: Pool,
    count: int,
    over_seconds: float,
    rng: random.Random | None = None,
    follow_up_seconds: float = 5.0,
) -> list[Subscriber]:
    """Insert `count` rows, spread over `over_seconds`: subscriptions of every product, and some sign-ups; send
    each subscriber's event `follow_up_seconds` after their row. Returns when every event is sent."""
    rng = rng or random.Random()  # noqa: S311 - sample data, not secrets
    subscribers: list[Subscriber] = []
    async with asyncio.TaskGroup() as follow_ups:
        for i in range(count):
            name = rng.choice(_NAMES)
            email = f"{name.lower()}.{rng.randrange(1_000_000)}@example.com"
            async with connection(pool) as conn:
                if i % 4 == 3:
                    await conn.execute(_SIGN_UP.sql, *_SIGN_UP.args(email=email, name=name))
                    log.info("demo_newsletter_sign_up", email=email)
                else:
                    subscriber = Subscriber(email, rng.choice(PRODUCTS), FATES[len(subscribers) % len(FATES)])
                    await conn.execute(
                        _SUBSCRIBE.sql, *_SUBSCRIBE.args(email=email, name=name, product=subscriber.product)
                    )
                    log.info("demo_subscription", email=email, product=subscriber.product, fate=subscriber.fate)
                    subscribers.append(subscriber)
                    follow_ups.create_task(_follow_up(pool, subscriber, follow_up_seconds))
            await asyncio.sleep(over_seconds / max(count, 1))
    return subscribers


async def _follow_up(pool: Pool, subscriber: Subscriber, after_seconds: float) -> None:
    """Send the subscriber's event, if their fate has one, once their execution has had time to start."""
    event = _FATE_EVENTS.get(subscriber.fate)
    if event is None:
        return
    await asyncio.sleep(after_seconds)
    async with connection(pool) as conn:
        await conn.execute(_SEND_EVENT.sql, *_SEND_EVENT.args(type=event, payload={"email": subscriber.email}))
    log.info("demo_event", type=event, email=subscriber.email)


async def run(pool: Pool, rows: int, over_seconds: float) -> None:
    """Set everything up, then play the application inserting rows."""
    await set_up(pool)
    log.info(
        "demo_watch",
        executions="curl -s localhost:8080/executions",
        emails="curl -s localhost:8080/emails",
        cancelled="curl -s 'localhost:8080/executions?state=cancelled'",
        triggers="curl -s localhost:8080/triggers",
    )
    await insert_rows(pool, rows, over_seconds)
    log.info("demo_rows_inserted", rows=rows)
