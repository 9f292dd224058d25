"""The secrets corpus: a secret is written only where a node sends it, as it is; a literal credential is warned
about at save and concealed in every record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.errors import DefinitionError
from conveyor.nodes.kinds import parse_definition
from conveyor.nodes.webhook import WebhookNode
from conveyor.redaction import marker
from conveyor.sandbox import BoundedSandbox
from conveyor.secret_references import SENDING_FILTERS
from conveyor.sendable import REDACTED, Sendable, conceal, restored
from conveyor.templating import render_value
from tests.corpus import corpus
from tests.integration.conftest import flow

_CORPUS = "secrets.json"


def _refused_at(definition: dict[str, Any]) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(definition)
    return [e["pointer"] for e in caught.value.details["errors"]]


@pytest.mark.parametrize("entry", corpus(_CORPUS, "transforms", "note"))
def test_a_secret_in_a_transform_is_refused_at_save(entry: dict[str, Any]) -> None:
    node = {"id": "n", "type": "webhook", "url": "http://example.com/", "headers": {"Authorization": entry["template"]}}
    assert "/nodes/0/headers/Authorization" in _refused_at(flow(node))


def test_the_corpus_puts_a_secret_through_every_filter_of_the_sandbox() -> None:
    covered = {
        entry.values[0]["filter"] for entry in corpus(_CORPUS, "transforms", "note") if "filter" in entry.values[0]
    }
    internal = {name for name in BoundedSandbox().filters if name.startswith("conveyor_")}
    assert set(BoundedSandbox().filters) - internal <= covered
    assert covered >= SENDING_FILTERS  # each also refused once chained with another filter


@pytest.mark.parametrize("entry", corpus(_CORPUS, "places", "note"))
def test_a_secret_where_no_node_sends_it_is_refused_at_save(entry: dict[str, Any]) -> None:
    definition = (
        flow(entry["node"])
        if "node" in entry
        else {**flow({"id": "n", "type": "delay", "duration": 1}), **entry["patch"]}
    )
    assert entry["pointer"] in _refused_at(definition)


@pytest.mark.parametrize("entry", corpus(_CORPUS, "accepted", "note"))
def test_a_secret_sent_as_it_is_is_accepted(entry: dict[str, Any]) -> None:
    definition = parse_definition(flow(entry["node"]))
    assert [ref.name for _, ref in definition.references()] != []
    assert definition.warnings() == []


@pytest.mark.parametrize("entry", corpus(_CORPUS, "literal_credentials", "note"))
def test_a_literal_credential_is_saved_with_a_warning_naming_a_secret(entry: dict[str, Any]) -> None:
    warnings = parse_definition(flow(entry["node"])).warnings()
    assert [w.pointer for w in warnings] == entry["fields"]
    assert all("{{ secrets.NAME }}" in w.message for w in warnings)


@pytest.mark.parametrize("entry", corpus(_CORPUS, "literal_credentials", "note"))
def test_a_literal_credential_is_concealed_in_the_records(entry: dict[str, Any]) -> None:
    node = WebhookNode.model_validate(entry["node"])
    context = {
        "input": {"id": "7", "q": "x", "token": "from-data-abcdef"},
        "secrets": {"CRM_TOKEN": marker("CRM_TOKEN")},
    }
    records = {
        name: conceal(node.sendable, name, restored(render_value(getattr(node, name), context), [marker("CRM_TOKEN")]))
        for name in ("url", "headers")
    }
    text = json.dumps(records, ensure_ascii=False)
    if "literal" in entry:
        assert entry["literal"] not in text
        assert REDACTED in text
    assert "from-data-abcdef" not in text  # a credential carried in from data is concealed too


@pytest.mark.parametrize(
    ("url", "record"),
    [
        (
            "http://u:{{ secrets.S|urlencode }}@h/?token={{ secrets.S }}&q=1",
            "http://u:«secret:S»@h/?token=«secret:S»&q=1",
        ),
        ("http://h/{{ secrets.S }}?api_key=literal-x", "http://h/«secret:S»?api_key=«redacted»"),
        ("http://u:literal@h/", "http://u:«redacted»@h/"),
        ("not a url at all [", "not a url at all ["),
    ],
)
def test_a_url_record_is_rendered_with_markers_and_concealed(url: str, record: str) -> None:
    markers = {"S": marker("S")}
    shown = restored(render_value(url, {"secrets": markers}), markers.values())
    assert conceal((Sendable("/url", "url"),), "url", shown) == record


def test_no_action_param_may_name_a_secret_the_action_declares_its_secrets_instead() -> None:
    node = {"id": "n", "type": "action", "action": "crm.call", "params": {"api_key": "{{ secrets.CRM_TOKEN }}"}}
    assert _refused_at(flow(node)) == ["/nodes/0/params/api_key"]
