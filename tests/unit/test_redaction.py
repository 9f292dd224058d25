"""The one redaction function: every form a secret is written in becomes its marker."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, quote_plus

import pytest
from markupsafe import escape
from yarl import URL

from conveyor.redaction import KnownSecrets, Redactor, marker
from conveyor.secret_cipher import SecretCipher, SecretUnreadableError, generate_key

SECRET = 'p@ss/w"rd+ ü&=?x'
REDACTOR = Redactor({"CRM": SECRET})


@pytest.mark.parametrize(
    "written",
    [
        SECRET,
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        html.escape(SECRET),
        str(escape(SECRET)),
    ],
)
def test_each_written_form_is_replaced(written: str) -> None:
    assert REDACTOR.text(f"before {written} after") == f"before {marker('CRM')} after"


# In a path, a '?' would start the query: the URL itself splits such a secret, so paths get one without.
_PATH_SECRET = SECRET.replace("?", "")


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (URL("http://example.com/hook").with_query(token=SECRET), SECRET),
        (URL("http://example.com/hook?token=" + SECRET), SECRET),
        (URL("http://example.com/hook/" + _PATH_SECRET), _PATH_SECRET),
        (URL.build(scheme="http", host="example.com", path="/" + _PATH_SECRET), _PATH_SECRET),
    ],
    ids=["with_query", "templated_query", "templated_path", "built_path"],
)
def test_a_url_built_by_yarl_is_redacted(url: URL, secret: str) -> None:
    assert Redactor({"CRM": secret}).text(str(url)).endswith(marker("CRM"))


def test_json_values_keys_and_nesting_are_redacted_and_other_types_kept() -> None:
    value = {SECRET: [SECRET, 1, True, None, {"k": f"Bearer {SECRET}"}]}
    assert REDACTOR.value(value) == {marker("CRM"): [marker("CRM"), 1, True, None, {"k": f"Bearer {marker('CRM')}"}]}


def test_a_secret_containing_another_is_replaced_whole() -> None:
    redactor = Redactor({"SHORT": "abcdefgh", "LONG": "abcdefgh-and-more"})
    assert redactor.text("abcdefgh-and-more abcdefgh") == f"{marker('LONG')} {marker('SHORT')}"


def test_known_secrets_are_learned_and_forgotten() -> None:
    known = KnownSecrets()
    known.add({"A": "value-of-a-1", "B": None})
    assert known.redactor.text("x value-of-a-1") == f"x {marker('A')}"
    known.forget(["A"])
    assert not known.redactor


def test_a_stored_value_decrypts_only_under_its_key_and_name() -> None:
    cipher = SecretCipher(generate_key())
    token = cipher.encrypt("CRM", SECRET)
    assert SECRET.encode() not in token
    assert cipher.decrypt("CRM", token) == SECRET
    with pytest.raises(SecretUnreadableError):
        cipher.decrypt("OTHER", token)
    with pytest.raises(SecretUnreadableError):
        SecretCipher(generate_key()).decrypt("CRM", token)
