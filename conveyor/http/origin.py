"""Same-origin guard: answer only Host names this server goes by, and take state changes only from its own pages.

A page on another origin can make a browser send a POST (a `no-cors` form or `text/plain` body) to this API, and a
name it controls can resolve to 127.0.0.1 (DNS rebinding). Browsers always say where a state-changing request
comes from (`Origin`, and `Sec-Fetch-Site` in current ones), and always send the name they connected to as `Host`;
servers and command-line clients send no `Origin`, so they are not held to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from yarl import URL

from conveyor.config import Settings
from conveyor.errors import ForbiddenError
from conveyor.http.errors import Handler
from conveyor.http.keys import SETTINGS

# The names a browser on this machine reaches a loopback listener by.
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What Sec-Fetch-Site says of a request the user made on this origin, or typed in.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


class HostNotAllowedError(ForbiddenError):
    """The Host header names a host this server does not answer for; list it in CONVEYOR_ALLOWED_HOSTS."""

    code = "host_not_allowed"


class OriginNotAllowedError(ForbiddenError):
    """A page on another origin may not change anything here; list it in CONVEYOR_ALLOWED_ORIGINS."""

    code = "origin_not_allowed"


@dataclass(frozen=True, slots=True)
class _Authority:
    host: str
    port: int | None  # None: not written, the scheme's own


def _authority(text: str, scheme: str = "http") -> _Authority | None:
    """The host (lowercase, without a trailing dot) and port `text` names, or None when it names none."""
    try:
        url = URL(f"{scheme}://{text}")
    except ValueError:
        return None
    if url.raw_host is None or url.user is not None or url.raw_path not in ("", "/") or url.query_string:
        return None
    host = url.raw_host.lower().rstrip(".")
    return _Authority(host, url.explicit_port) if host else None


def _listed(entry: str, named: _Authority) -> bool:
    """Whether a CONVEYOR_ALLOWED_HOSTS entry (`name`: any port, or `name:port`) covers the host named."""
    listed = _authority(entry)
    return (
        listed is not None and listed.host == named.host and (listed.port is None or listed.port == (named.port or 80))
    )


def _allowed_host(request: web.Request, settings: Settings) -> _Authority:
    """The request's Host, when it names this server; else HostNotAllowedError."""
    raw = request.headers.get("Host", "")
    named = _authority(raw)
    if named is None:
        raise HostNotAllowedError("the Host header is missing or not a host name", field="Host")
    if any(_listed(entry, named) for entry in settings.allowed_hosts):
        return named
    local = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(local, tuple) and len(local) >= 2:
        # The loopback names and the address the client connected to, at the port it connected to.
        names = _LOOPBACK | {str(local[0]).lower()}
        if named.host in names and (named.port or 80) == local[1]:
            return named
    raise HostNotAllowedError(
        f"this server does not answer for the host {named.host[:100]!r}; list it in CONVEYOR_ALLOWED_HOSTS",
        field="Host",
    )


def _same_origin(origin: str, host: _Authority, settings: Settings) -> bool:
    """Whether `origin` is this server's own (the Host the request names) or one listed as allowed."""
    if origin.lower().rstrip("/") in settings.allowed_origins:
        return True
    scheme, _, rest = origin.partition("://")
    if scheme.lower() not in ("http", "https"):
        return False
    named = _authority(rest, scheme.lower())
    if named is None or named.host != host.host:
        return False
    # A Host without a port leaves it to the scheme, which a proxy in front may have changed.
    return host.port is None or (named.port or URL(f"{scheme.lower()}://x").port) == host.port


def _check_origin(request: web.Request, host: _Authority, settings: Settings) -> None:
    origin = request.headers.get("Origin")
    if origin is not None:
        if not _same_origin(origin, host, settings):
            raise OriginNotAllowedError(
                f"a request from the origin {origin[:100]!r} may not change anything here; "
                "list it in CONVEYOR_ALLOWED_ORIGINS",
                field="Origin",
            )
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.lower() not in _OWN_FETCH_SITES:
        raise OriginNotAllowedError(
            f"a request a browser made for a {site[:40]!r} page may not change anything here", field="Sec-Fetch-Site"
        )


def same_origin_guarded(path: str) -> bool:
    """Whether requests to `path` must name this server's host (all but the health probes)."""
    # Probes come with whatever Host the platform gives them, and change nothing.
    return not (path == "/health" or path.startswith("/health/"))


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a Host this server does not go by, and a state change a page on another origin asked for."""
    if not same_origin_guarded(request.path):
        return await handler(request)
    settings = request.app[SETTINGS]
    host = _allowed_host(request, settings)
    if request.method not in _SAFE_METHODS:
        _check_origin(request, host, settings)
    return await handler(request)
