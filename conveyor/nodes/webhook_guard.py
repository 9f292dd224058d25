"""Keep outbound webhooks away from this machine's and the private network's addresses."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from conveyor.errors import PermanentStepError

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class ForbiddenTargetError(PermanentStepError):
    """The webhook's target is on a loopback, private, link-local or metadata address."""

    code = "forbidden_webhook_target"


def forbidden_address(address: str) -> bool:
    """Whether an IP address is one a webhook must not reach by default."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def check_host(host: str, allowed: frozenset[str]) -> None:
    """Refuse a literal forbidden IP or a metadata host name, unless the host is allowed."""
    name = host.strip("[]").lower()
    if name in allowed:
        return
    if name in _METADATA_HOSTS or name == "localhost" or name.endswith(".localhost"):
        raise ForbiddenTargetError(f"webhook target {host!r} is not allowed", host=host)
    try:
        literal = forbidden_address(name)
    except ValueError:
        return  # a name: the resolver checks the addresses it resolves to
    if literal:
        raise ForbiddenTargetError(f"webhook target {host!r} is not allowed", host=host)


class GuardedResolver(AbstractResolver):
    """Resolves names, then refuses any that lead to a forbidden address (no DNS rebinding)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self._allowed = allowed
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve, then check every address unless the host is allowed."""
        results = await self._inner.resolve(host, port, family)
        if host.lower() not in self._allowed:
            for result in results:
                if forbidden_address(result["host"]):
                    raise ForbiddenTargetError(
                        f"webhook target {host!r} resolves to a forbidden address {result['host']}", host=host
                    )
        return results

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


def webhook_session(allowed: frozenset[str], **kwargs: Any) -> aiohttp.ClientSession:
    """A client session for webhooks that cannot reach forbidden addresses."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(allowed), limit=100)
    return aiohttp.ClientSession(connector=connector, **kwargs)
