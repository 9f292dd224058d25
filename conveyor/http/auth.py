"""Who is calling, and whether their role may call this route.

A request presents `Authorization: Bearer <credential>`: CONVEYOR_API_TOKEN (the bootstrap admin), an API key
(`conveyor keys create`), or a JWT from the configured identity provider. Each route declares the least role it
needs (`operation(role=...)`); a caller below it gets 403. Without CONVEYOR_API_TOKEN (and single sign-on)
the API is open, as an admin of the default namespace, to anyone who can reach it; a live key presented still
acts as itself there (its namespace and role).
CONVEYOR_METRICS_TOKEN guards /metrics (the API token when it is unset: metrics name workflows and triggers, so
they are open only when the API is).
"""

from __future__ import annotations

import hmac

from aiohttp import web

from conveyor.config import Settings
from conveyor.errors import ForbiddenError, UnauthorizedError, ValidationError
from conveyor.http.dashboard import ASSET_PREFIX
from conveyor.http.errors import Handler
from conveyor.http.keys import JWT_VERIFIER, KEY_CACHE, POOL, SETTINGS
from conveyor.http.operation import declared_operation
from conveyor.http.sso import looks_like_jwt
from conveyor.key_digest import KEY_PREFIX, key_digest
from conveyor.principal import ANONYMOUS, DEFAULT_NAMESPACE, Principal, is_namespace
from conveyor.roles import Role

_SCHEME = "bearer "
# The header the bootstrap token (which belongs to no namespace) names the namespace it acts in with.
NAMESPACE_HEADER = "Conveyor-Namespace"
PRINCIPAL = web.RequestKey("principal", Principal)


class RoleTooLowError(ForbiddenError):
    """This route needs a higher role than the credential has."""

    code = "role_too_low"


def _open(path: str) -> bool:
    """Whether a path answers without credentials."""
    if path == "/health" or path.startswith(("/health/", "/hooks/")):
        return True  # probes must answer without secrets; inbound hooks carry their own signature
    # The dashboard's shell and assets hold no data; the page asks for a key itself.
    return path == "/" or path.startswith(ASSET_PREFIX)


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[: len(_SCHEME)].lower() != _SCHEME:
        return None
    return header[len(_SCHEME) :].strip() or None


def _is(presented: str, token: str) -> bool:
    # Constant-time, so the answer's timing does not reveal how much of a guess was right.
    return hmac.compare_digest(presented.encode(), token.encode())


def _unauthorized() -> UnauthorizedError:
    return UnauthorizedError(
        "this route needs the header 'Authorization: Bearer <key>' with a live API key or token",
        field="Authorization",
    )


def _bootstrap(request: web.Request) -> Principal:
    """The bootstrap admin, in the namespace the request names (the default one when none)."""
    namespace = request.headers.get(NAMESPACE_HEADER, DEFAULT_NAMESPACE)
    if not is_namespace(namespace):
        raise ValidationError(
            f"header {NAMESPACE_HEADER} must name a namespace: 1 to 63 lower-case letters, digits, '_', '.' or '-'",
            field=NAMESPACE_HEADER,
        )
    return Principal("token", Role.ADMIN, namespace, spans_namespaces=True)


async def _principal(request: web.Request, settings: Settings) -> Principal:
    presented = _bearer(request)
    guarded = settings.api_token is not None or settings.single_sign_on
    if presented is None:
        if not guarded:
            return ANONYMOUS
        raise _unauthorized()
    if settings.api_token is not None and _is(presented, settings.api_token):
        return _bootstrap(request)
    if settings.single_sign_on and looks_like_jwt(presented):
        return await request.app[JWT_VERIFIER].principal(presented)
    if presented.startswith(KEY_PREFIX) and settings.key_secret:
        key = await request.app[KEY_CACHE].find(request.app[POOL], key_digest(settings.key_secret, presented))
        if key is not None:
            return Principal(f"key:{key.id}", key.role, key.namespace, key.id)
    if not guarded:
        return ANONYMOUS  # an open API lets anyone in: a credential it does not know narrows nothing
    raise _unauthorized()


def _check_metrics(request: web.Request, settings: Settings) -> None:
    token = settings.metrics_token or settings.api_token
    presented = _bearer(request)
    if token is not None and (presented is None or not _is(presented, token)):
        raise UnauthorizedError("this route needs the header 'Authorization: Bearer <token>'", field="Authorization")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a request without a credential, or whose credential's role is below the route's."""
    if _open(request.path):
        return await handler(request)
    settings = request.app[SETTINGS]
    if request.path == "/metrics":
        _check_metrics(request, settings)
        return await handler(request)
    principal = await _principal(request, settings)
    declared = declared_operation(request.match_info.route.handler)
    if declared is not None and principal.role < declared.role:
        raise RoleTooLowError(
            f"this route needs the {declared.role.label} role; the credential has {principal.role.label}",
            field="Authorization",
            needs=declared.role.label,
            role=principal.role.label,
        )
    request[PRINCIPAL] = principal
    return await handler(request)


def principal_of(request: web.Request) -> Principal:
    """Who the request acts as (the middleware has checked it)."""
    principal: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return principal
