"""Nodes that deliver to the outside (webhooks, send_email, send_sms) retry by default; others make one attempt;
a declared `retry` always wins."""

import pytest

from conveyor.definitions import DELIVERY_RETRY, RetryPolicy
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.kinds import parse_definition

_EMAIL: JSONObject = {"id": "n", "type": "action", "action": "send_email", "params": {"to": "a@b.co", "template": "t"}}
_SMS: JSONObject = {"id": "n", "type": "action", "action": "send_sms", "params": {"to": "+15551234567", "body": "hi"}}
_WEBHOOK: JSONObject = {"id": "n", "type": "webhook", "url": "https://example.com/hook"}


def _node_retry(node: JSONObject) -> RetryPolicy:
    return parse_definition({"name": "w", "start": "n", "nodes": [node]}).nodes[0].retry


@pytest.mark.parametrize("node", [_EMAIL, _SMS, _WEBHOOK], ids=["send_email", "send_sms", "webhook"])
def test_a_delivering_node_without_retry_takes_the_delivery_policy(node: JSONObject) -> None:
    assert _node_retry(node) == DELIVERY_RETRY
    assert DELIVERY_RETRY.max_attempts == 3


@pytest.mark.parametrize("node", [_EMAIL, _WEBHOOK], ids=["send_email", "webhook"])
def test_a_declared_retry_wins_over_the_default(node: JSONObject) -> None:
    assert _node_retry({**node, "retry": {"max_attempts": 1}}).max_attempts == 1


def test_other_nodes_make_one_attempt_unless_they_declare_more() -> None:
    assert _node_retry({"id": "n", "type": "action", "action": "noop"}).max_attempts == 1
    assert _node_retry({"id": "n", "type": "delay", "duration": "1s"}).max_attempts == 1
