"""@action: what a declaration must say, and what the registry derives from it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from conveyor import ActionContext, action
from conveyor.jsonvalue import JSONObject
from conveyor.nodes.actions import BUILTINS
from conveyor.nodes.actions.registry import Registry


class Task(BaseModel):
    title: str


def _declare(registry: Registry, key: str = "crm.create_task", **declared: Any) -> None:
    @action(key, registry=registry, **declared)
    async def create_task(params: Any, ctx: ActionContext) -> JSONObject:
        """Create a task.

        More words that are not the description."""
        return {}


def test_a_declaration_gives_the_catalog_its_fields_and_a_version_from_its_schema() -> None:
    registry = Registry()
    _declare(registry, params=Task, secrets=["CRM_TOKEN"], category="crm")
    [spec] = list(registry)
    assert (spec.key, spec.category, spec.description, spec.display_name) == (
        "crm.create_task",
        "crm",
        "Create a task.",
        "Create task",
    )
    assert spec.params_schema()["required"] == ["title"]
    assert spec.is_async
    assert not spec.builtin
    other = Registry()
    _declare(other, params=Task, secrets=["CRM_TOKEN", "OTHER"], category="crm")
    assert next(iter(other)).version != spec.version  # what a definition depends on changed


@pytest.mark.parametrize("key", ["", "Crm.task", "crm..task", "crm.task.", "1crm", "crm task", "x" * 101, "crm-task"])
def test_a_key_that_is_not_lower_case_words_joined_by_dots_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="an action key"):
        _declare(Registry(), key)


@pytest.mark.parametrize(
    ("declared", "error"),
    [
        ({"params": dict}, TypeError),
        ({"output": "Task"}, TypeError),
        ({"secrets": "CRM_TOKEN"}, TypeError),
        ({"secrets": ["not-a-name"]}, ValueError),
        ({"category": ""}, ValueError),
    ],
)
def test_a_malformed_declaration_is_refused_when_the_module_loads(declared: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        _declare(Registry(), **declared)


def test_two_functions_under_one_key_are_refused_and_a_function_must_take_params_and_ctx() -> None:
    registry = Registry()
    _declare(registry)
    with pytest.raises(ValueError, match="declared twice"):
        _declare(registry)
    with pytest.raises(TypeError, match=r"must take \(params, ctx\)"):

        @action("crm.lonely", registry=Registry())
        def lonely(params: JSONObject) -> JSONObject:
            return params


def test_the_built_ins_are_declared_through_the_same_door() -> None:
    assert {spec.key for spec in BUILTINS} == {"noop", "send_email", "send_sms"}
    assert all(spec.builtin for spec in BUILTINS)
    assert next(s for s in BUILTINS if s.key == "send_email").template_param == "template"
