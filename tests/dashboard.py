"""What the dashboard's browser tests share: where screenshots go, a phone's size, starting and awaiting runs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from testkit.poll import poll_until
from tests.browser import Page
from tests.integration.conftest import ApiClient

SHOTS = Path(os.environ.get("CONVEYOR_SCREENSHOTS") or Path(tempfile.gettempdir()) / "conveyor-dashboard")
"""Screenshots go to $CONVEYOR_SCREENSHOTS, or <tmp>/conveyor-dashboard; they are not committed."""

PHONE = (390, 844)
DESKTOP = (1280, 800)
STATE = "document.querySelector('#state .badge')?.dataset.state"

# Elements wider than the screen, by tag and class: a page should scroll only vertically.
_OVERFLOW = """[...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !el.closest('.scroll'))
  .map(el => `${el.tagName.toLowerCase()}.${el.className.baseVal ?? el.className}`)"""


async def shoot(page: Page, name: str) -> None:
    """Check that nothing outside a scroll box is wider than the screen, and write a screenshot."""
    wide = await page.evaluate(_OVERFLOW)
    assert wide == [], f"{name}: wider than the screen: {wide[:8]}"
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{name}: scrolls sideways"
    await page.screenshot(SHOTS / name)


async def shoot_both(page: Page, name: str) -> None:
    """Screenshots at desktop and phone widths (`name`-desktop.png, `name`-phone.png), back to desktop after."""
    await shoot(page, f"{name}-desktop.png")
    await page.resize(*PHONE, mobile=True)
    await shoot(page, f"{name}-phone.png")
    await page.resize(*DESKTOP)


async def start(api: ApiClient, workflow_id: str, **input_: object) -> str:
    """Start an execution through the API; its id."""
    response = await api.post(f"/workflows/{workflow_id}/executions", json={"input": input_})
    assert response.status == 201, await response.text()
    return str((await response.json())["id"])


async def ended(api: ApiClient, execution_id: str) -> str:
    """Wait until the execution ends; its last state."""

    async def state() -> str | None:
        found = str((await (await api.get(f"/executions/{execution_id}")).json())["state"])
        return found if found in ("completed", "failed", "cancelled") else None

    return str(await poll_until(state, f"execution {execution_id} ended"))
