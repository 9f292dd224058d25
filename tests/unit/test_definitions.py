import copy

import pytest

from conveyor.errors import DefinitionError
from conveyor.nodes.delay import DelayNode
from conveyor.nodes.kinds import parse_definition
from tests.examples import design_example

EXAMPLE = design_example()


def test_the_design_example_is_valid() -> None:
    definition = parse_definition(EXAMPLE)
    wait = definition.node("wait")
    assert isinstance(wait, DelayNode)
    assert wait.duration is not None
    assert wait.duration.total_seconds() == 2 * 86400
    assert definition.node("engaged").successors() == ["crm", "nudge"]


def _broken(path: tuple[int, str], value: object) -> dict[str, object]:
    raw = copy.deepcopy(EXAMPLE)
    raw["nodes"][path[0]][path[1]] = value
    return raw


@pytest.mark.parametrize(
    ("raw", "pointer", "mentions"),
    [
        (_broken((1, "next"), "nowhere"), "/nodes/1/next", "nowhere"),
        (_broken((2, "else"), "ghost"), "/nodes/2/else", "ghost"),
        (_broken((2, "rule"), {"===": [1]}), "/nodes/2/rule", "JSON Logic"),
        (_broken((1, "duration"), "eventually"), "/nodes/1/duration", "eventually"),
        (_broken((0, "id"), "crm"), "/nodes/4/id", "duplicate"),
        (_broken((4, "body"), {"email": "{{ input.email "}), "/nodes/4/body/email", "template"),
        ({**EXAMPLE, "start": "nope"}, "/start", "nope"),
    ],
)
def test_errors_name_the_field_and_the_value(raw: dict[str, object], pointer: str, mentions: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(raw)
    assert caught.value.details["field"] == pointer
    assert mentions in caught.value.message


def test_delay_needs_exactly_one_of_duration_or_until() -> None:
    raw = _broken((1, "until"), "{{ input.at }}")
    with pytest.raises(DefinitionError, match="exactly one"):
        parse_definition(raw)
