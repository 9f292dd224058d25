"""The outbound address guard over the address corpus: every refused form refused, public ones let through."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from conveyor.errors import PermanentStepError
from conveyor.nodes.webhook import _target
from conveyor.services.webhook_guard import ForbiddenTargetError, GuardedResolver, check_host, host_address
from tests.corpus import corpus
from tests.resolver import FixedResolver


async def _resolved(url: str, answer: list[str]) -> list[str]:
    """Check the URL's host, then resolve it through the guard to `answer`."""
    target = _target(url, frozenset(), url)
    assert target.host is not None
    resolver = GuardedResolver(frozenset(), FixedResolver({target.host: [answer]}))
    return [r["host"] for r in await resolver.resolve(target.host, 80)]


@pytest.mark.parametrize("entry", corpus("addresses.json", "refused", "url"))
async def test_refused_targets_are_refused_by_the_host_check_or_the_resolver(entry: dict[str, Any]) -> None:
    with pytest.raises(PermanentStepError):
        await _resolved(entry["url"], entry.get("resolves_to", []))


@pytest.mark.parametrize("entry", corpus("addresses.json", "allowed", "url"))
async def test_public_targets_pass_without_connecting(entry: dict[str, Any]) -> None:
    answer = entry.get("resolves_to", [])
    assert await _resolved(entry["url"], answer) == answer


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("[::ffff:7f00:1]", "::ffff:7f00:1"),
        ("93.184.216.34.", "93.184.216.34"),
        ("example.com", None),
        ("1.2.3.256", None),
    ],
)
def test_hosts_are_read_as_the_os_resolver_reads_them(host: str, address: str | None) -> None:
    found = host_address(host)
    assert (str(found) if found else None) == address


def test_an_allowed_host_is_opened_by_name_in_any_spelling() -> None:
    check_host("127.0.0.1", frozenset({"127.0.0.1"}))
    check_host("127.0.0.1.", frozenset({"127.0.0.1"}))
    check_host("LOCALHOST", frozenset({"localhost"}))


def test_opening_one_spelling_does_not_open_another() -> None:
    with pytest.raises(ForbiddenTargetError):
        check_host("127.1", frozenset({"127.0.0.1"}))


async def test_an_allowed_name_skips_the_check_of_its_answers() -> None:
    resolver = GuardedResolver(frozenset({"crm.internal"}), FixedResolver({"crm.internal": [["10.0.0.5"]]}))
    assert [r["host"] for r in await resolver.resolve("crm.internal", 443)] == ["10.0.0.5"]


def test_a_refusal_names_the_host_and_is_permanent() -> None:
    with pytest.raises(ForbiddenTargetError, match="not public") as caught:
        _target(str(URL("http://0x7f.1/")), frozenset(), "http://0x7f.1/")
    assert caught.value.details == {"host": "0x7f.1"}
    assert not caught.value.retryable


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "169.254.169.254"])
def test_a_refusal_names_the_setting_that_would_allow_it(host: str) -> None:
    with pytest.raises(ForbiddenTargetError, match="CONVEYOR_WEBHOOK_ALLOW_HOSTS"):
        check_host(host, frozenset())


async def test_a_name_resolving_to_a_forbidden_address_names_the_setting_too() -> None:
    resolver = GuardedResolver(frozenset(), FixedResolver({"rebound.example": [["127.0.0.1"]]}))
    with pytest.raises(ForbiddenTargetError, match="CONVEYOR_WEBHOOK_ALLOW_HOSTS"):
        await resolver.resolve("rebound.example", 443)
