"""Each setting is declared once: its variable, default and text come from the one declaration."""

import dataclasses

import pytest

from conveyor.config import Settings, client_setting
from conveyor.setting import SETTING, declared


def test_every_field_of_the_settings_is_declared_with_its_variable() -> None:
    undeclared = [f.name for f in dataclasses.fields(Settings) if SETTING not in f.metadata]
    assert undeclared == []
    variables = [found.variable for _, found, _ in declared(Settings)]
    assert len(variables) == len(set(variables))


def test_an_empty_environment_gives_the_declared_defaults() -> None:
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("variable", "raw"),
    [("CONVEYOR_CONCURRENCY", "many"), ("SMTP_STARTTLS", "perhaps"), ("CONVEYOR_EMAIL_TRANSPORT", "pigeon")],
)
def test_a_value_that_does_not_parse_is_refused_naming_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(ValueError, match=f"^{variable} .*{raw}"):
        Settings.from_env({variable: raw})


def test_secrets_are_never_in_the_repr() -> None:
    settings = Settings(api_token="t0ken-value", smtp_password="pa55word", env_secrets={"CRM": "crm-value"})
    assert not {"t0ken-value", "pa55word", "crm-value"} & set(repr(settings).replace("'", " ").split())


def test_a_client_reads_its_settings_without_the_servers() -> None:
    env = {"CONVEYOR_URL": "http://api.example:9000", "CONVEYOR_CONCURRENCY": "many"}
    assert client_setting("api_url", env) == "http://api.example:9000"
    assert client_setting("api_token", env) is None
