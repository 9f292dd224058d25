"""Forged and replayed deliveries to a signed webhook trigger: a 401 (or a duplicate) and no row written
(tests/corpora/forged_hooks.json)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from conveyor.engine.inbox import consume_inbox
from conveyor.engine.trigger_cache import TriggerCache
from conveyor.store import Pool
from conveyor.store.triggers import database_now
from testkit.poll import poll_until
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
_UNSET = object()


def _digest(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _timestamp(spec: Any, now: int) -> str | None:
    if spec is None or isinstance(spec, int):
        return None if spec is None else str(now + spec)
    forms = {"milliseconds": str(now * 1000), "fraction": f"{now}.5", "huge": "999999999999"}
    return forms.get(spec, str(spec))


def _v1_header(kind: str, t: str, message: bytes, body: bytes) -> str | None:
    """X-Conveyor-Signature as a case writes it (the v1 scheme)."""
    digest = _digest(SECRET, message)
    other = _digest(SECRET + "-other", message)
    earlier, later = (str(int(t) - 1), str(int(t) + 1)) if t.isdigit() else (t, t)
    forms: dict[str, str | None] = {
        "valid": f"t={t},v1={digest}",
        "none": None,
        "empty": "",
        "legacy": f"sha256={_digest(SECRET, body)}",
        "legacy_timestamp": f"sha256={_digest(SECRET, t.encode() + b'.' + body)}",
        "no_t": f"v1={digest}",
        "two_t": f"t={t},t={earlier},v1={digest}",
        "no_v1": f"t={t}",
        "bare_hex": digest,
        "upper": f"t={t},v1={digest.upper()}",
        "truncate": f"t={t},v1={digest[:-1]}",
        "extend": f"t={t},v1={digest}0",
        "flip": f"t={t},v1={'1' if digest[0] == '0' else '0'}{digest[1:]}",
        "other_secret": f"t={t},v1={other}",
        "rotated": f"t={t},v1={other},v1={digest}",
        "six_v1": f"t={t}," + ",".join([f"v1={other}"] * 5) + f",v1={digest}",
        "spaces": f" t={t} , v1={digest} ",
        "t_plus_one": f"t={later},v1={digest}",
    }
    return forms[kind]


def _v1_request(case: dict[str, Any], now: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers a v1 case sends."""
    signed_body = case["signed_body"].encode() if "signed_body" in case else BODY
    t = _timestamp(case.get("signed_timestamp", 0), now)
    assert t is not None
    signed_delivery = case.get("signed_delivery", "d-1")
    message = f"{t}\n{signed_delivery or ''}\n".encode() + signed_body
    headers: dict[str, str] = {"Content-Type": "application/json"}
    header = _v1_header(case.get("header", "valid"), t, message, signed_body)
    if header is not None:
        headers["X-Conveyor-Signature"] = header
    sent_delivery = case.get("sent_delivery", _UNSET)
    delivery = signed_delivery if sent_delivery is _UNSET else sent_delivery
    if delivery is not None:
        headers["X-Conveyor-Delivery"] = delivery
    return _SENT_BODIES.get(case.get("sent_body", ""), BODY), headers


def _legacy_request(case: dict[str, Any], now: int) -> tuple[bytes, dict[str, str]]:
    """The body and headers a legacy case sends (sha256= over the body, or over timestamp '.' body)."""
    signed_body = case["signed_body"].encode() if "signed_body" in case else BODY
    signed_ts = _timestamp(case.get("signed_timestamp"), now)
    message = signed_body if signed_ts is None else signed_ts.encode() + b"." + signed_body
    digest = _digest(SECRET, message)
    forms: dict[str, str | None] = {
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
    headers: dict[str, str] = {"Content-Type": "application/json"}
    signature = forms[case.get("signature", "valid")]
    if signature is not None:
        headers["X-Conveyor-Signature"] = signature
    sent_ts = _timestamp(case["sent_timestamp"], now) if "sent_timestamp" in case else signed_ts
    if sent_ts is not None:
        headers["X-Conveyor-Timestamp"] = sent_ts
    return _SENT_BODIES.get(case.get("sent_body", ""), BODY), headers


async def _hook(api: ApiClient, case: dict[str, Any], *, legacy: bool) -> None:
    workflow = await (await api.post("/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}))).json()
    definition: dict[str, Any] = {"type": "webhook", "path": "signup", "secret": SECRET}
    if legacy:
        definition |= {"signature": "legacy", "require_timestamp": bool(case.get("require_timestamp"))}
    if "tolerance" in case:
        definition["tolerance"] = case["tolerance"]
    response = await api.post(f"/workflows/{workflow['id']}/triggers", json=definition)
    assert response.status == 201, await response.text()


async def _rows(db: Pool) -> tuple[int, int]:
    async with db.acquire() as conn:
        return await conn.fetchval("SELECT count(*) FROM trigger_events"), await conn.fetchval(
            "SELECT count(*) FROM executions"
        )


async def _now(db: Pool) -> int:
    async with db.acquire() as conn:
        return int((await database_now(conn)).timestamp())


async def _post(db: Pool, api: ApiClient, body: bytes, headers: dict[str, str]) -> tuple[int, Any, int]:
    """Send one request; its status, its answer, and how many inbox rows it wrote."""
    before = await _rows(db)
    response = await api.post("/hooks/signup", data=body, headers=headers)
    answer = await response.json()
    after = await _rows(db)
    assert after[1] == before[1], "a delivery is stored as a row; no execution starts in the request"
    return response.status, answer, after[0] - before[0]


def _field(answer: Any) -> str:
    return str(answer["error"]["details"].get("field", "")) if "error" in answer else ""


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "refused", "name"))
async def test_a_forged_delivery_is_refused_and_writes_no_row(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    await _hook(api, case, legacy=False)
    status, answer, written = await _post(db, api, *_v1_request(case, await _now(db)))
    assert (status, written) == (401, 0), case["note"]
    assert _field(answer) == "X-Conveyor-Signature"


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "accepted", "name"))
async def test_a_genuine_delivery_writes_one_row(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    # The control for the refusals: the same harness, signing right, does write.
    await _hook(api, case, legacy=False)
    status, answer, written = await _post(db, api, *_v1_request(case, await _now(db)))
    assert (status, written, answer.get("duplicate")) == (202, 1, False), (case["note"], answer)


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "replayed", "name"))
async def test_a_replayed_delivery_starts_nothing_more(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    await _hook(api, case, legacy=False)
    now = await _now(db)
    status, first, written = await _post(db, api, *_v1_request(case, now))
    assert (status, written) == (202, 1), first
    if case.get("between") == "consume":
        await consume_inbox(db, TriggerCache(), 100)
        await poll_until(lambda: _executions_are(db, 1), "the first delivery's execution")
    elif case.get("between") == "delete_inbox":
        async with db.acquire() as conn:
            await conn.execute("DELETE FROM trigger_events")
    status, answer, written = await _post(db, api, *_v1_request({**case, **case["replay"]}, now))
    assert written == 0, case["note"]
    if case["expect"] == "refused":
        assert status == 401, (case["note"], answer)
    else:
        kept = None if case.get("between") == "delete_inbox" else first["id"]
        assert (status, answer) == (202, {"id": kept, "duplicate": True}), case["note"]
    await consume_inbox(db, TriggerCache(), 100)
    assert (await _rows(db))[1] <= 1, "one signed delivery starts one execution at most"


async def _executions_are(db: Pool, n: int) -> bool:
    return (await _rows(db))[1] == n


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "legacy_refused", "name"))
async def test_a_forged_legacy_delivery_is_refused(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    await _hook(api, case, legacy=True)
    status, answer, written = await _post(db, api, *_legacy_request(case, await _now(db)))
    assert (status, written) == (401, 0), case["note"]
    assert _field(answer) in ("X-Conveyor-Signature", "X-Conveyor-Timestamp")


@pytest.mark.parametrize("case", corpus("forged_hooks.json", "legacy_accepted", "name"))
async def test_a_genuine_legacy_delivery_writes_one_row(db: Pool, api: ApiClient, case: dict[str, Any]) -> None:
    await _hook(api, case, legacy=True)
    status, _, written = await _post(db, api, *_legacy_request(case, await _now(db)))
    assert (status, written) == (202, 1), case["note"]


def test_the_corpus_holds_forgeries_and_replays() -> None:
    assert len(corpus("forged_hooks.json", "refused", "name")) >= 30
    assert len(corpus("forged_hooks.json", "replayed", "name")) >= 8


async def test_a_trigger_saved_with_a_secret_is_stored_with_its_signature_scheme(db: Pool, api: ApiClient) -> None:
    # migrations/0005 marks the ones stored without a scheme (saved before v1) as legacy
    await _hook(api, {}, legacy=False)
    async with db.acquire() as conn:
        assert await conn.fetchval("SELECT definition->>'signature' FROM triggers") == "v1"
