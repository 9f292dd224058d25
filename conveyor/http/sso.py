"""Single sign-on: bearer JWTs from an identity provider, verified with PyJWT against its JWKS (or one static key).

A token must be signed by one of the provider's keys with an allowed algorithm, name the configured issuer and
audience, carry `sub` and `exp`, and a known role in the role claim; the namespace claim names its namespace
(the default one when absent). The JWKS is fetched off the event loop and cached by PyJWT's client.
"""

from __future__ import annotations

import asyncio

import jwt

from conveyor.config import Settings
from conveyor.errors import UnauthorizedError
from conveyor.http.bodies import storable_text
from conveyor.principal import DEFAULT_NAMESPACE, Principal, is_namespace
from conveyor.roles import Role

# The longest subject taken: the audit trail records it in full.
_MAX_SUBJECT = 255
# Clocks of the provider and of this server may differ by this much.
_LEEWAY_SECONDS = 30
# How long fetched signing keys are trusted before the JWKS is read again.
_JWKS_LIFESPAN_SECONDS = 300


class InvalidTokenError(UnauthorizedError):
    """The bearer JWT is not one this server accepts."""

    code = "invalid_token"


def looks_like_jwt(credential: str) -> bool:
    """Whether a bearer credential has a JWT's shape (three base64url parts, a JSON header)."""
    return credential.startswith("eyJ") and credential.count(".") == 2


class JwtVerifier:
    """Checks bearer JWTs against the configured provider and turns their claims into a Principal."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, lifespan=_JWKS_LIFESPAN_SECONDS, timeout=10)
            if settings.jwt_jwks_url
            else None
        )

    async def principal(self, token: str) -> Principal:
        """Who the token names, or InvalidTokenError saying why it is refused."""
        s = self._settings
        try:
            if self._jwks is not None:
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            else:
                key = s.jwt_key
            claims = jwt.decode(
                token,
                key,
                algorithms=list(s.jwt_algorithms),
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                leeway=_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWKClientConnectionError as exc:
            raise InvalidTokenError(
                "the identity provider's keys (JWKS) cannot be fetched", field="Authorization"
            ) from exc
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"the bearer JWT is refused: {exc}", field="Authorization") from exc
        return _principal(claims, s)


def _principal(claims: dict[str, object], s: Settings) -> Principal:
    role, namespace = claims.get(s.jwt_role_claim), claims.get(s.jwt_namespace_claim, DEFAULT_NAMESPACE)
    try:
        granted = Role.named(role) if isinstance(role, str) else None
    except ValueError:
        granted = None
    if granted is None:
        raise InvalidTokenError(f"the bearer JWT's claim {s.jwt_role_claim!r} names no role", field="Authorization")
    if not isinstance(namespace, str) or not is_namespace(namespace):
        raise InvalidTokenError(
            f"the bearer JWT's claim {s.jwt_namespace_claim!r} names no namespace", field="Authorization"
        )
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > _MAX_SUBJECT or not storable_text(subject):
        raise InvalidTokenError(
            f"the bearer JWT's subject must be text of 1 to {_MAX_SUBJECT} characters", field="Authorization"
        )
    return Principal(f"jwt:{subject}", granted, namespace)
