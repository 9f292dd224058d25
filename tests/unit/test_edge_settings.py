"""The edge's settings: allowed hosts and origins as written by an operator, and bounds that keep clients in."""

import pytest

from conveyor.config import Settings


def test_allowed_hosts_and_origins_are_read_as_lists_in_lowercase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_ALLOWED_HOSTS", " Conveyor.Example.com, admin.example.com:8443 ,")
    monkeypatch.setenv("CONVEYOR_ALLOWED_ORIGINS", "https://Admin.Example.com/,http://localhost:3000")
    settings = Settings.from_env()
    assert settings.allowed_hosts == {"conveyor.example.com", "admin.example.com:8443"}
    assert settings.allowed_origins == {"https://admin.example.com", "http://localhost:3000"}


def test_the_edge_bounds_have_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONVEYOR_HEADER_TIMEOUT", "CONVEYOR_MAX_CONNECTIONS", "CONVEYOR_MAX_WAITS"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.header_timeout_seconds, settings.max_connections, settings.max_waits) == (10.0, 1000, 100)


@pytest.mark.parametrize(
    ("name", "raw"), [("CONVEYOR_MAX_CONNECTIONS", "0"), ("CONVEYOR_HEADER_TIMEOUT", "0"), ("CONVEYOR_MAX_WAITS", "-1")]
)
def test_a_bound_that_would_lock_every_client_out_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=name):
        Settings.from_env()
