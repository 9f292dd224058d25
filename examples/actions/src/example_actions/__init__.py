"""Two actions of a team's own: an async one that calls an HTTP API, and a plain one that computes."""

from __future__ import annotations

import re
import unicodedata

import aiohttp
from pydantic import BaseModel, Field

from conveyor import ActionContext, NonRetryableError, RetryAfter, action


class CreateTask(BaseModel):
    """A task for the CRM's API."""

    endpoint: str = Field(description="the CRM's task endpoint, e.g. https://crm.example.com/api/tasks")
    title: str = Field(min_length=1, max_length=200)
    assignee: str | None = None
    due_in_days: int = Field(default=3, ge=0, le=365)


@action(
    "crm.create_task",
    params=CreateTask,
    secrets=["CRM_TOKEN"],
    category="crm",
    description="Create a task in the CRM, once per step however often the step runs",
)
async def create_task(params: CreateTask, ctx: ActionContext) -> dict[str, object]:
    """POST the task with the step's idempotency key, so that a retry or a re-run after a crash creates one."""
    headers = {"Authorization": f"Bearer {ctx.secrets['CRM_TOKEN']}", "Idempotency-Key": ctx.idempotency_key}
    body = params.model_dump(exclude={"endpoint"})
    async with aiohttp.ClientSession() as session, session.post(params.endpoint, json=body, headers=headers) as answer:
        if answer.status == 429:
            raise RetryAfter(float(answer.headers.get("Retry-After", "5")))
        if 400 <= answer.status < 500:
            raise NonRetryableError(f"the CRM refused the task: HTTP {answer.status}")
        answer.raise_for_status()
        created = await answer.json()
    ctx.log.info("crm_task_created", task_id=created.get("id"))
    return {"task_id": created.get("id"), "title": params.title}


class Slug(BaseModel):
    """Text to turn into a URL slug."""

    text: str = Field(max_length=10_000)
    max_length: int = Field(default=60, ge=1, le=200)


@action("text.slugify", params=Slug, category="text")
def slugify(params: Slug, ctx: ActionContext) -> dict[str, str]:
    """Turn text into a lower-case ASCII slug; a plain function, so it runs in the worker's action threads."""
    ascii_text = unicodedata.normalize("NFKD", params.text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return {"slug": slug[: params.max_length].rstrip("-")}
