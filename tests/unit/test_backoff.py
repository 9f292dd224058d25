import random
from datetime import timedelta

from conveyor.definitions import RetryPolicy
from conveyor.engine.backoff import retry_delay_seconds


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
