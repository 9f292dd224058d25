"""Email templates, and the ones every installation starts with."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.engine.store import Conn
from conveyor.errors import PermanentStepError


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """A named email: subject, text and HTML bodies, each a template."""

    name: str
    subject: str
    text_body: str
    html_body: str | None


def _seed(name: str, subject: str, intro: str) -> EmailTemplate:
    text = f"Hi {{{{ input.name | default('there') }}}},\n\n{intro}\n\n— The team\n"
    html = f"<p>Hi {{{{ input.name | default('there') }}}},</p>\n<p>{intro}</p>\n<p>— The team</p>\n"
    return EmailTemplate(name, subject, text, html)


SEED_TEMPLATES = (
    _seed("generic_welcome", "Welcome aboard", "Thanks for signing up. We are glad to have you."),
    _seed("united_welcome", "Welcome to United", "Your United membership is active. Here is how to get started."),
    _seed("podcast_welcome", "Welcome to the podcast", "New episodes will reach you as soon as they are out."),
    _seed("newsletter_welcome", "You are subscribed", "Our newsletter will reach you once a week."),
    _seed("engagement_nudge", "We miss you", "You have not been around for a while. Here is what you missed."),
    _seed("value_highlight", "Get more out of your account", "Here are three features our users love most."),
)

_SEED = """
INSERT INTO email_templates (name, subject, text_body, html_body)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (name) DO NOTHING
"""


async def seed_templates(conn: Conn) -> None:
    """Add the standard templates that are missing; never overwrite an edited one."""
    await conn.execute(
        _SEED,
        [t.name for t in SEED_TEMPLATES],
        [t.subject for t in SEED_TEMPLATES],
        [t.text_body for t in SEED_TEMPLATES],
        [t.html_body for t in SEED_TEMPLATES],
    )


_GET = "SELECT name, subject, text_body, html_body FROM email_templates WHERE name = $1"


async def get_template(conn: Conn, name: str) -> EmailTemplate:
    """Find a template by name; a missing one fails the step for good."""
    row = await conn.fetchrow(_GET, name)
    if row is None:
        raise PermanentStepError(f"email template {name!r} does not exist", template=name)
    return EmailTemplate(**dict(row))
