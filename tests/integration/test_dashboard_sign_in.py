"""The dashboard signs in with an API key in a real headless Chromium, shows the namespace and role, and hides
what the role may not do."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.browser import Page, chromium, chromium_path
from tests.integration.conftest import ApiClient, flow
from tests.integration.test_roles import ADMIN, Client, access_settings, make_key

_BUTTONS = "[...document.querySelectorAll('.actions button')].filter(b => !b.hidden).map(b => b.dataset.action)"


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    executable = chromium_path()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does it)")
    async with chromium(executable) as tab:
        yield tab


async def _sign_in(page: Page, api: ApiClient, path: str, key: str) -> None:
    await page.send("Page.navigate", url=str(api.make_url(f"/#{path}")))  # it renders after the sign-in only
    await page.wait_for("document.getElementById('token-dialog')?.open", "the sign-in dialog")
    await page.evaluate(
        f"document.getElementById('token-input').value = {key!r};document.getElementById('token-form').requestSubmit()"
    )
    await page.wait_for("document.getElementById('who').textContent !== ''", "the namespace and role shown")


@pytest.mark.parametrize(
    ("role", "shown"), [("viewer", []), ("operator", ["pause", "resume", "cancel", "retry", "rerun"])]
)
async def test_a_key_signs_in_and_sees_only_the_buttons_its_role_may_use(
    db: Pool, aiohttp_client: Client, page: Page, role: str, shown: list[str]
) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="signed-in")
    workflow = await (await api.post("/workflows", json=definition, headers=ADMIN)).json()
    execution = await (await api.post(f"/workflows/{workflow['id']}/executions", json={}, headers=ADMIN)).json()
    key = await make_key(api, role)
    await _sign_in(page, api, f"/executions/{execution['id']}", key)
    assert await page.evaluate("document.getElementById('who').textContent") == f"default · {role}"
    await page.wait_for("!!document.querySelector('.actions button[data-action=pause]')", "the execution page")
    assert await page.evaluate(_BUTTONS) == shown


async def test_an_admin_reads_the_audit_trail_and_an_operators_actions_name_it(
    db: Pool, aiohttp_client: Client, page: Page
) -> None:
    api = await aiohttp_client(create_app(db, access_settings()))
    definition = flow({"id": "wait", "type": "delay", "duration": "1h"}, name="audited")
    workflow = await (await api.post("/workflows", json=definition, headers=ADMIN)).json()
    execution = await (await api.post(f"/workflows/{workflow['id']}/executions", json={}, headers=ADMIN)).json()
    assert (await api.post(f"/executions/{execution['id']}/pause", headers=ADMIN)).status == 200
    admin = await make_key(api, "admin")
    await _sign_in(page, api, "/audit", admin)
    await page.wait_for("document.querySelectorAll('#audit tbody tr').length >= 4", "the audit trail")
    assert not await page.evaluate("document.querySelector('nav a[data-section=audit]').hidden")
    actions = await page.evaluate(
        "[...document.querySelectorAll('#audit tbody tr td:nth-child(3)')].map(c => c.textContent)"
    )
    assert actions[:3] == ["POST /keys", "POST /executions/{id}/pause", "pause"]
    await page.goto(str(api.make_url(f"/#/executions/{execution['id']}")))
    timeline = "[...document.querySelectorAll('li[data-event=pause]')].map(li => li.textContent).join(' ')"
    await page.wait_for(f"{timeline}.includes('by token')", "the history naming who paused it")
