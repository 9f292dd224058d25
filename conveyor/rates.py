"""Send rates: how many sends a second a resource takes across all workers, and whether per recipient domain."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_PER_SECOND = 100_000.0


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `per_second` sends a second, evenly spaced; `per_domain`: each recipient domain on its own."""

    per_second: float
    per_domain: bool = False

    @property
    def interval_seconds(self) -> float:
        """The spacing of two sends."""
        return 1.0 / self.per_second


def parse_rate(raw: str) -> Rate:
    """Read `10` (a second, all sends) or `10/domain` (a second, per recipient domain)."""
    number, _, scope = raw.strip().partition("/")
    if scope not in ("", "domain"):
        raise ValueError(f"a rate is 'N' or 'N/domain' sends a second, not {raw!r}")
    try:
        per_second = float(number)
    except ValueError:
        raise ValueError(f"a rate is 'N' or 'N/domain' sends a second, not {raw!r}") from None
    if not 0 < per_second <= _MAX_PER_SECOND:
        raise ValueError(f"a rate must be above 0 and at most {_MAX_PER_SECOND:g} a second, not {raw!r}")
    return Rate(per_second, per_domain=scope == "domain")
