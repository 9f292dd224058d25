"""Single sign-on: JWTs signed with keys this test makes, checked against a JWKS a real local HTTP peer serves
(or one static key); the role and namespace come from the configured claims."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conveyor.config import Settings
from conveyor.http.app import create_app
from conveyor.store import Pool
from tests.integration.conftest import ApiClient, flow
from tests.integration.test_roles import Client, bearer

ISSUER = "https://id.example.test/"
AUDIENCE = "conveyor"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: Any = RSA_KEY, kid: str = "rsa-1", algorithm: str = "RS256", **claims: Any) -> str:
    """A token with good defaults: this issuer and audience, an hour to live, an operator of team-a."""
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "ann@example.test",
        "iat": now,
        "exp": now + 3600,
        "conveyor_role": "operator",
        "conveyor_namespace": "team-a",
    } | claims
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers={"kid": kid})


def _jwks() -> dict[str, Any]:
    keys = []
    for kid, key in (("rsa-1", RSA_KEY), ("ec-1", EC_KEY)):
        jwk = json.loads(
            jwt.algorithms.get_default_algorithms()["RS256" if kid == "rsa-1" else "ES256"].to_jwk(key.public_key())
        )
        keys.append(jwk | {"kid": kid, "use": "sig"})
    return {"keys": keys}


@pytest.fixture
async def sso(db: Pool, aiohttp_client: Client, aiohttp_server: Callable[..., Awaitable[TestServer]]) -> ApiClient:
    """The API, taking JWTs of the provider whose JWKS a local HTTP peer serves."""

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response(_jwks())

    provider = web.Application()
    provider.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(provider, host="127.0.0.1")
    settings = Settings(
        api_token="bootstrap-token-value",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        jwt_jwks_url=str(server.make_url("/jwks.json")),
    )
    return await aiohttp_client(create_app(db, settings))


async def test_a_signed_token_acts_with_its_role_in_its_namespace(sso: ApiClient) -> None:
    editor = token(conveyor_role="editor")
    created = await sso.post(
        "/workflows", json=flow({"id": "a", "type": "action", "action": "noop"}, name="sso"), headers=bearer(editor)
    )
    assert created.status == 201
    listed = await (
        await sso.get("/workflows", headers=bearer(token(kid="ec-1", key=EC_KEY, algorithm="ES256")))
    ).json()
    assert [w["name"] for w in listed["items"]] == ["sso"]
    other = await (await sso.get("/workflows", headers=bearer(token(conveyor_namespace="team-b")))).json()
    assert other["items"] == []
    refused = await sso.put("/secrets/X", json={"value": "value-one"}, headers=bearer(token()))
    assert refused.status == 403
    trail = await (await sso.get("/audit", headers=bearer(token(conveyor_role="admin")))).json()
    assert [(e["actor"], e["action"]) for e in trail["items"]] == [("jwt:ann@example.test", "POST /workflows")]


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (lambda: token(aud="someone-else"), "audience"),
        (lambda: token(iss="https://evil.example.test/"), "issuer"),
        (lambda: token(exp=int(time.time()) - 3600), "expired"),
        (lambda: token(exp=None), "exp"),
        (lambda: token(key=STRANGER), "signature"),
        (lambda: token(key=STRANGER, kid="unknown"), "kid"),
        (lambda: token(conveyor_role="root"), "conveyor_role"),
        (lambda: token(conveyor_role=None), "conveyor_role"),
        (lambda: token(conveyor_namespace="Not A Namespace"), "conveyor_namespace"),
        (lambda: token(sub="nul\u0000byte"), "sub"),
        (lambda: token(sub="x" * 256), "sub"),
        (lambda: token(sub=42), "sub"),
        (
            lambda: jwt.encode(
                {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "conveyor_role": "admin"},
                "s" * 32,
                algorithm="HS256",
            ),
            "algorithm",
        ),
    ],
)
async def test_a_token_that_fails_any_check_is_401(sso: ApiClient, bad: Callable[[], str], why: str) -> None:
    response = await sso.get("/workflows", headers=bearer(bad()))
    assert response.status == 401, why
    error = (await response.json())["error"]
    assert error["code"] == "invalid_token"
    assert error["details"]["field"] == "Authorization"


async def test_without_a_credential_an_sso_api_is_closed(sso: ApiClient) -> None:
    assert (await sso.get("/workflows")).status == 401


async def test_a_static_key_verifies_without_a_jwks(db: Pool, aiohttp_client: Client) -> None:
    pem = RSA_KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    settings = Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_key=pem.decode(), jwt_algorithms=("RS256",))
    api = await aiohttp_client(create_app(db, settings))
    assert (await api.get("/workflows", headers=bearer(token()))).status == 200
    assert (await api.get("/workflows", headers=bearer(token(key=STRANGER)))).status == 401


def test_sso_without_issuer_or_audience_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="CONVEYOR_JWT_ISSUER"):
        Settings(jwt_jwks_url="https://id.example.test/jwks.json")


async def test_forged_key_ids_do_not_make_the_jwks_be_fetched_again_and_again(
    db: Pool, aiohttp_client: Client, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> None:
    fetches = 0

    async def jwks(_: web.Request) -> web.Response:
        nonlocal fetches
        fetches += 1
        return web.json_response(_jwks())

    provider = web.Application()
    provider.router.add_get("/jwks.json", jwks)
    server = await aiohttp_server(provider, host="127.0.0.1")
    settings = Settings(jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwt_jwks_url=str(server.make_url("/jwks.json")))
    api = await aiohttp_client(create_app(db, settings))
    assert (await api.get("/workflows", headers=bearer(token()))).status == 200
    for n in range(20):
        assert (await api.get("/workflows", headers=bearer(token(key=STRANGER, kid=f"forged-{n}")))).status == 401
    assert fetches <= 2  # the first read, and one more for an unknown key id (PyJWKClient's cooldown, 30 s)
    assert (await api.get("/workflows", headers=bearer(token(kid="ec-1", key=EC_KEY, algorithm="ES256")))).status == 200
