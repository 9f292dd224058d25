"""Forged deliveries to a signed webhook trigger: a 401 and no row written (tests/corpora/forged_hooks.json)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from conveyor.store import Pool
from conveyor.store.triggers import database_now
from tests.corpus import corpus
from tests.integration.conftest import ApiClient, flow

SECRET = "forged-hooks-secret-0123"
BODY = b'{"email":"a@example.com","plan":"pro"}'
_SENT_BODIES = {
    "empty": b"",
    "truncate": BODY[:-1],
    "flip": BODY[:10] + bytes([BODY[10] ^ 1]) + BODY[11:],
    "pad_space": BODY + b" ",
    "pad_newline": BODY + b"\n",
    "pad_nul": BODY + b"\x00",
    "prefix_space": b" " + BODY,
    "reorder": b'{"plan":"pro","email":"a@example.com"}',
    "escape": b'{"email":"a\\u0040example.com","plan":"pro"}',
    "twice": BODY + BODY,
}


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _signature(kind: str, message: bytes) -> str | None:
    digest = _digest(SECRET, message)
    forms = {
        "valid": f"sha256={digest}",
        "none": None,
        "empty": "",
        "no_prefix": digest,
        "sha1_prefix": f"sha1={digest}",
        "upper": f"sha256={digest.upper()}",
        "truncate": f"sha256={digest[:-1]}",
        "extend": f"sha256={digest}0",
        "flip": f"sha256={'1' if digest[0] == '0' else '0'}{digest[1:]}",
        "other_secret": f"sha256={_digest(SECRET + '-other', message)}",
    }
    return forms[kind]


def _timestamp(spec: Any, now: int) -> str | None:
    if spec is None or isinstance(spec, int):
        return None if spec is None else str(now + spec)
    return {"milliseconds": str(now * 1000), "fraction": f"{now}.5"}.get(spec, str(spec))


def _request(case: dict[str, Any], now: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers a case sends."""
    signed_body = case["signed_body"].encode() if "signed_body" in case else BODY
    signed_ts = _timestamp(case.get("signed_timestamp"), now)
    message = signed_body if signed_ts is None else signed_ts.encode() + b"." + signed_body
    headers: dict[str, str] = {"Content-Type": "application/json"}
    signature = _signature(case.get("signature", "valid"), message)
    if signature is not None:
        headers["X-Conveyor-Signature"] = signature
    sent_ts = _timestamp(case["sent_timestamp"], now) if "sent_timestamp" in case else signed_ts
    if sent_ts is not None:
        headers["X-Conveyor-Timestamp"] = sent_ts
    return _SENT_BODIES.get(case.get("sent_body", ""), BODY), headers


async def _hook(api: ApiClient, require_timestamp: bool) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    definition = {"type": "webhook", "path": "signup", "secret": SECRET, "require_timestamp": require_timestamp}
    assert (await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)).status == 201


async def _rows(db: Pool) -> tuple[int, int]:
    async with db.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM trigger_events"), await conn.fetchval(
            "SELECT count(*) FROM executions"
        )


async def _send(db: Pool, api: ApiClient, case: dict[str, Any]) -> tuple[int, str, int]:
    """Send a case; its status, the field its error names, and how many inbox rows it wrote."""
    await _hook(api, bool(case.get("require_timestamp")))
    async with db.acquire() as conn:
        now = int((await database_now(conn)).timestamp())
    body, headers = _request(case, now)
    before = await _rows(db)
    response = await api.post("/hooks/signup", data=body, headers=headers)
    answer = await response.json()
    after = await _rows(db)
    assert after[1] == before[1], "a delivery is stored as a row; no execution starts in the request"
    field = answer["error"]["details"].get("field", "") if "error" in answer else ""
    return response.status, field, after[0] - before[0]


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "refused", "name"))
async def test_a_forged_delivery_is_refused_and_writes_no_row(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    status, field, written = await _send(db, api, case)
    assert (status, written) == (401, 0), case["note"]
    assert field in ("X-Conveyor-Signature", "X-Conveyor-Timestamp")


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "accepted", "name"))
async def test_a_genuine_delivery_writes_one_row(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    # The control for the refusals: the same harness, signing right, does write.
    status, _, written = await _send(db, api, case)
    assert (status, written) == (202, 1), case["note"]


def test_the_corpus_holds_at_least_twenty_forgeries() -> None:
    assert len(corpus("forged_hooks.json", "refused", "name")) >= 20
