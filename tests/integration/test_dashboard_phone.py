"""Every page at a phone's width scrolls only up and down: tables, graphs and charts scroll inside their boxes.
Each page's screenshot is written at desktop and phone widths."""

from __future__ import annotations

from conveyor.engine.worker import Worker
from tests.browser import Page
from tests.dashboard import PHONE, ended, shoot, start
from tests.every_kind import child_definition, every_kind_definition
from tests.integration.conftest import ApiClient


async def test_no_page_scrolls_sideways_on_a_phone(api: ApiClient, worker: Worker, page: Page) -> None:
    assert (await api.post("/workflows", json=child_definition())).status == 201
    workflow = await (
        await api.post("/workflows", json=every_kind_definition("a-rather-long-workflow-name-for-phones"))
    ).json()
    trigger = {"type": "schedule", "cron": "*/5 * * * *"}
    assert (await api.post(f"/workflows/{workflow['id']}/triggers", json=trigger)).status == 201
    execution_id = await start(api, workflow["id"], plan="free", email="someone.with.a.long.address@example.com")
    other = await start(api, str((await (await api.get("/workflows/every-kind-child")).json())["id"]))
    assert await ended(api, other) == "completed"
    pages = {
        "executions": "/#/executions",
        "workflows": "/#/workflows",
        "workflow": f"/#/workflows/{workflow['id']}",
        "execution": f"/#/executions/{execution_id}",
        "triggers": "/#/triggers",
        "messages": "/#/messages",
        "actions": "/#/actions",
        "system": "/#/system",
        "editor": f"/#/editor/{workflow['id']}",
    }
    for name, path in pages.items():
        await page.resize(1280, 800)
        await page.goto(str(api.make_url(path)))
        await shoot(page, f"page-{name}-desktop.png")
        await page.resize(*PHONE, mobile=True)
        await page.reload()
        await shoot(page, f"page-{name}-phone.png")
