"""The onboarding use case, runnable in one command: an application's tables, its flows, and new rows arriving.

`conveyor demo` plays the application: it creates a `subscriptions` and a `newsletters` table (its own, so its
SQL lives here, not in conveyor's store), one onboarding workflow per product type, table poll triggers
routing each row to its product's flow by a filter, and then inserts rows for a while. Everything it creates
is created once: running it again reuses what is there and only adds rows.
"""

from __future__ import annotations

import asyncio
import random

import structlog

from conveyor.engine.operations import create_workflow
from conveyor.engine.triggers import create_trigger
from conveyor.errors import ConflictError
from conveyor.jsonvalue import JSONObject
from conveyor.store import Pool, connection
from conveyor.store.triggers import list_triggers
from conveyor.store.workflows import get_workflow

log = structlog.get_logger(__name__)

_TABLES = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    product    text NOT NULL,
    engaged    boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS newsletters (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      text NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""
_SUBSCRIBE = "INSERT INTO subscriptions (email, name, product, engaged) VALUES ($1, $2, $3, $4)"
_SIGN_UP = "INSERT INTO newsletters (email, name) VALUES ($1, $2)"

PRODUCTS = ("united", "podcast", "magazine")
_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus")


def onboarding(product: str, welcome: str, wait: str) -> JSONObject:
    """Welcome now, wait, then a nudge for who has not engaged or a value email for who has."""
    to = "{{ input.email }}"
    return {
        "name": f"onboarding-{product}",
        "description": f"Onboarding for {product} subscriptions",
        "start": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": to, "template": welcome},
                "retry": {"max_attempts": 3, "delay": "2s"},
                "next": "wait",
            },
            {"id": "wait", "type": "delay", "duration": wait, "next": "engaged"},
            {"id": "engaged", "type": "condition", "rule": {"var": "input.engaged"}, "then": "value", "else": "nudge"},
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


def _flows(wait: str) -> list[tuple[JSONObject, JSONObject]]:
    """Each workflow with the trigger that feeds it."""
    poll = {"type": "poll", "table": "subscriptions", "cursor": "id", "interval": "2s"}
    return [
        (onboarding("united", "united_welcome", wait), {**poll, "filter": {"==": [{"var": "product"}, "united"]}}),
        (onboarding("podcast", "podcast_welcome", wait), {**poll, "filter": {"==": [{"var": "product"}, "podcast"]}}),
        (
            onboarding("other", "generic_welcome", wait),
            {**poll, "filter": {"!": [{"in": [{"var": "product"}, ["united", "podcast"]]}]}},
        ),
        (newsletter(), {"type": "poll", "table": "newsletters", "cursor": "id", "interval": "2s"}),
    ]


async def set_up(pool: Pool, wait: str = "10s") -> None:
    """Create the tables, the workflows and their triggers, each only if it is missing."""
    async with connection(pool) as conn:
        await conn.execute(_TABLES)
    for definition, trigger in _flows(wait):
        try:
            workflow = await create_workflow(pool, definition)
        except ConflictError:
            async with connection(pool) as conn:
                workflow = await get_workflow(conn, str(definition["name"]))
        async with connection(pool) as conn:
            has_trigger = bool(await list_triggers(conn, workflow.id, None, 1))
        if not has_trigger:
            await create_trigger(pool, str(workflow.id), trigger)
    log.info("demo_ready", workflows=[str(d["name"]) for d, _ in _flows(wait)])


async def insert_rows(pool: Pool, count: int, over_seconds: float, rng: random.Random | None = None) -> None:
    """Insert `count` rows, spread over `over_seconds`: subscriptions of every product, and some sign-ups."""
    rng = rng or random.Random()  # noqa: S311 - sample data, not secrets
    for i in range(count):
        name = rng.choice(_NAMES)
        email = f"{name.lower()}.{rng.randrange(10_000)}@example.com"
        async with connection(pool) as conn:
            if i % 4 == 3:
                await conn.execute(_SIGN_UP, email, name)
                log.info("demo_newsletter_sign_up", email=email)
            else:
                product, engaged = rng.choice(PRODUCTS), rng.random() < 0.5
                await conn.execute(_SUBSCRIBE, email, name, product, engaged)
                log.info("demo_subscription", email=email, product=product, engaged=engaged)
        await asyncio.sleep(over_seconds / max(count, 1))


async def run(pool: Pool, rows: int, over_seconds: float) -> None:
    """Set everything up, then play the application inserting rows."""
    await set_up(pool)
    log.info(
        "demo_watch",
        executions="curl -s localhost:8080/executions",
        emails="curl -s localhost:8080/emails",
        triggers="curl -s localhost:8080/triggers",
    )
    await insert_rows(pool, rows, over_seconds)
    log.info("demo_rows_inserted", rows=rows)
