"""Keep outbound calls away from this machine, the private network and cloud metadata services.

Three checks, each on what is actually used: `check_host` on the URL's host (every notation the OS
resolver would accept is read as the address it denotes), `GuardedResolver` on every address DNS
returns (the connector connects to exactly those, never re-resolving), and `GuardedConnector` on
every connection the session opens, redirect hops included.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_reqrep import ClientRequest
from aiohttp.tracing import Trace

from conveyor.errors import PermanentStepError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names of cloud instance metadata services, and suffixes no public name ends with.
_FORBIDDEN_NAMES = frozenset(
    {
        "localhost",
        "metadata",  # GCP, short form
        "metadata.goog",  # GCP
        "metadata.google.internal",  # GCP
        "instance-data",  # AWS
        "instance-data.ec2.internal",  # AWS
        "metadata.tencentyun.com",  # Tencent Cloud
    }
)
_FORBIDDEN_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")

# Metadata addresses, named even where a range below already covers them, so the list documents itself.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack, Hetzner
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud Classic
    )
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

_NAME = re.compile(r"^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$")
_IPV6_LITERAL = re.compile(r"^[0-9a-f:.]+$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_LEGACY_PART = re.compile(r"^(?:0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$")


class ForbiddenTargetError(PermanentStepError):
    """The webhook's target is on a loopback, private, link-local or metadata address."""

    code = "forbidden_webhook_target"


def _legacy_ipv4(name: str) -> ipaddress.IPv4Address | None:
    """Read `127.1`, `0x7f.1`, `0177.0.0.1` or `2130706433` as `inet_aton` does: the last part fills the rest."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_PART.match(p) for p in parts):
        return None
    values = [int(p[2:] or "0", 16) if p.startswith("0x") else int(p, 8 if p.startswith("0") else 10) for p in parts]
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(parts)):
        return None
    number = last
    for i, v in enumerate(head):
        number |= v << (8 * (3 - i))
    return ipaddress.IPv4Address(number)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: mapped, compatible, SIIT, NAT64, 6to4, Teredo."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found.extend(ip.teredo)
    if ip in _IPV4_COMPATIBLE or ip in _SIIT or any(ip in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _forbidden_ip(ip: IPAddress) -> bool:
    if ip in _METADATA_ADDRESSES or not ip.is_global or ip.is_multicast:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        return any(ip in net for net in _NAT64[1:]) or any(_forbidden_ip(v4) for v4 in _embedded_ipv4(ip))
    return False


def forbidden_address(address: str) -> bool:
    """Whether an IP address (a zone id is ignored) is one an outbound call must not reach by default."""
    return _forbidden_ip(ipaddress.ip_address(address.split("%", 1)[0]))


def _normalise(host: str) -> str:
    name = host.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    name = name.rstrip(".")
    if not name.isascii():
        try:  # IDNA folds full-width and circled digits and letters: full-width "127.0.0.1" is 127.0.0.1
            name = name.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return ""
    return name


def host_address(host: str) -> IPAddress | None:
    """The IP address a URL host denotes, in any notation the OS accepts, or None when it is a name."""
    name = _normalise(host)
    if ":" in name and _IPV6_LITERAL.match(name):
        try:
            return ipaddress.IPv6Address(name)
        except ValueError:
            return None
    return _legacy_ipv4(name)


# Every refusal names the setting that would allow it.
_ALLOW_HINT = " (list the host in CONVEYOR_WEBHOOK_ALLOW_HOSTS to allow it)"


def check_host(host: str, allowed: frozenset[str]) -> None:
    """Refuse a host that is, or names, a forbidden address, unless the host is allowed.

    A name that is not a forbidden one passes: `GuardedResolver` checks what it resolves to.
    """
    name = _normalise(host)
    if name in allowed or host.lower() in allowed:
        return
    address = host_address(name)
    if address is not None:
        if _forbidden_ip(address):
            raise ForbiddenTargetError(
                f"outbound target {host!r} is not allowed: {address} is not public{_ALLOW_HINT}", host=host
            )
        return
    if not _NAME.match(name) or _NUMERIC_LABEL.match(name.rsplit(".", 1)[-1]):
        raise ForbiddenTargetError(f"outbound target {host!r} is not a valid host name or address", host=host)
    if name in _FORBIDDEN_NAMES or name.endswith(_FORBIDDEN_SUFFIXES):
        raise ForbiddenTargetError(f"outbound target {host!r} is not allowed: an internal name{_ALLOW_HINT}", host=host)


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses any that lead to a forbidden address (no DNS rebinding)."""

    def __init__(self, allowed: frozenset[str], inner: AbstractResolver | None = None) -> None:
        self._allowed = allowed
        self._inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve once, then check every address unless the host is allowed; one bad answer refuses all."""
        results = await self._inner.resolve(host, port, family)
        if _normalise(host) not in self._allowed:
            for result in results:
                if forbidden_address(result["host"]):
                    raise ForbiddenTargetError(
                        f"outbound target {host!r} resolves to a forbidden address {result['host']}{_ALLOW_HINT}",
                        host=host,
                    )
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A connector that checks the host of every connection it opens, redirect hops included.

    IP literals never reach a resolver, so this is where they are checked.
    """

    def __init__(self, allowed: frozenset[str], resolver: AbstractResolver | None = None, **kwargs: Any) -> None:
        self._allowed = allowed
        super().__init__(resolver=GuardedResolver(allowed, resolver), **kwargs)

    async def connect(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 (the signature aiohttp calls)
    ) -> aiohttp.connector.Connection:
        """Check the request's host, then connect through the guarded resolver."""
        check_host(req.url.raw_host or "", self._allowed)
        return await super().connect(req, traces, timeout)


def webhook_session(
    allowed: frozenset[str], *, resolver: AbstractResolver | None = None, **kwargs: Any
) -> aiohttp.ClientSession:
    """A client session that cannot reach forbidden addresses; `resolver` replaces the system's DNS."""
    return aiohttp.ClientSession(connector=GuardedConnector(allowed, resolver, limit=100), **kwargs)
