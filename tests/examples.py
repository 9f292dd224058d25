"""Definitions several tests share."""

from __future__ import annotations

from conveyor.jsonvalue import JSONObject


def design_example(crm_url: str = "https://crm.example/hook", delay: str = "2d") -> JSONObject:
    """The onboarding example of DESIGN.md, with its CRM URL and delay replaceable."""
    return {
        "name": "onboarding",
        "start": "welcome",
        "nodes": [
            {
                "id": "welcome",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "generic_welcome"},
                "retry": {"max_attempts": 3, "backoff": "exponential", "delay": "2s", "max_delay": "1m"},
                "next": "wait",
            },
            {"id": "wait", "type": "delay", "duration": delay, "next": "engaged"},
            {
                "id": "engaged",
                "type": "condition",
                "rule": {"==": [{"var": "input.plan"}, "pro"]},
                "then": "crm",
                "else": "nudge",
            },
            {
                "id": "nudge",
                "type": "action",
                "action": "send_email",
                "params": {"to": "{{ input.email }}", "template": "engagement_nudge"},
                "next": "crm",
            },
            {
                "id": "crm",
                "type": "webhook",
                "method": "POST",
                "url": crm_url,
                "body": {"email": "{{ input.email }}"},
                "timeout": "10s",
            },
        ],
    }
