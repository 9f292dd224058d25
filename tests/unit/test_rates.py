"""Send rates as configured, and the throttle key a send counts against."""

from __future__ import annotations

import pytest

from conveyor.nodes.throttle import email_key, host_key
from conveyor.rates import Rate, parse_rate


def test_a_bare_number_is_one_rate_for_all_sends() -> None:
    assert parse_rate("10") == Rate(10.0)
    assert email_key(Rate(10.0), "Ann@Example.com") == "email"


def test_a_rate_per_domain_keys_each_recipient_domain() -> None:
    rate = parse_rate("2.5/domain")
    assert rate == Rate(2.5, per_domain=True)
    assert email_key(rate, "ann@Example.COM") == "email:example.com"
    assert rate.interval_seconds == 0.4


@pytest.mark.parametrize("raw", ["", "0", "-1", "ten", "10/host", "1e9"])
def test_a_rate_that_is_not_a_positive_number_a_second_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(raw)


def test_webhook_calls_count_per_host() -> None:
    assert host_key("API.example.com") == "webhook:api.example.com"
