import random
from datetime import timedelta

import pytest

from conveyor.definitions import RetryPolicy
from conveyor.engine.backoff import retry_delay_seconds
from conveyor.nodes.webhook_guard import ForbiddenTargetError, check_host


def test_exponential_backoff_doubles_and_caps() -> None:
    policy = RetryPolicy(
        max_attempts=10, backoff="exponential", delay=timedelta(seconds=1), max_delay=timedelta(seconds=5), jitter=False
    )
    assert [retry_delay_seconds(policy, n) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]


def test_jitter_stays_between_half_and_the_full_delay() -> None:
    policy = RetryPolicy(backoff="fixed", delay=timedelta(seconds=2), jitter=True)
    rng = random.Random(7)
    delays = [retry_delay_seconds(policy, 1, rng) for _ in range(200)]
    assert all(1 <= d <= 2 for d in delays)
    assert len(set(delays)) > 100


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "localhost",
        "10.1.2.3",
        "192.168.0.1",
        "169.254.169.254",
        "[::1]",
        "metadata.google.internal",
        "0.0.0.0",
    ],
)
def test_private_and_metadata_hosts_are_refused(host: str) -> None:
    with pytest.raises(ForbiddenTargetError):
        check_host(host, frozenset())


def _refused(host: str, allowed: frozenset[str] = frozenset()) -> bool:
    try:
        check_host(host, allowed)
    except ForbiddenTargetError:
        return True
    return False


@pytest.mark.parametrize(
    ("host", "allowed"), [("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("LOCALHOST", "localhost")]
)
def test_a_refused_host_passes_once_allowed(host: str, allowed: str) -> None:
    assert (_refused(host), _refused(host, frozenset({allowed}))) == (True, False)


def test_a_public_name_is_left_to_the_resolver() -> None:
    assert not _refused("crm.example.com")
