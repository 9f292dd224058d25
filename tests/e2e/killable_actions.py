"""Actions a worker process loads for the kill test (CONVEYOR_ACTIONS=tests.e2e.killable_actions): each records
every call, sleeps long enough to be killed in, then writes its effect once per idempotency key."""

from __future__ import annotations

import asyncio

from conveyor import ActionContext, action
from conveyor.jsonvalue import JSONObject

CALLS = (
    "CREATE TABLE IF NOT EXISTS killable_calls (key text NOT NULL, attempt int NOT NULL, at timestamptz DEFAULT now())"
)
EFFECTS = "CREATE TABLE IF NOT EXISTS killable_effects (key text PRIMARY KEY, at timestamptz DEFAULT now())"


@action("chaos.slow_effect", category="test")
async def slow_effect(params: JSONObject, ctx: ActionContext) -> JSONObject:
    """Record the call, sleep, then write the effect under the step's key (the way a peer dedupes by key)."""
    async with ctx.services.pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO killable_calls (key, attempt) VALUES ($1, $2)", ctx.idempotency_key, ctx.attempt
        )
    await asyncio.sleep(float(params.get("seconds", 0)))
    async with ctx.services.pool.acquire() as conn:
        await conn.execute("INSERT INTO killable_effects (key) VALUES ($1) ON CONFLICT DO NOTHING", ctx.idempotency_key)
    return {"key": ctx.idempotency_key}
