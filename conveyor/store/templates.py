"""Email templates, and the ones every installation starts with."""

from __future__ import annotations

from dataclasses import dataclass

from conveyor.errors import PermanentStepError
from conveyor.store import Conn


@dataclass(frozen=True, slots=True)
class EmailContent:
    """An email's subject, text and HTML bodies: templates when stored, rendered when sent."""

    subject: str
    text_body: str
    html_body: str | None


def _seed(subject: str, intro: str) -> EmailContent:
    text = f"Hi {{{{ input.name | default('there') }}}},\n\n{intro}\n\n— The team\n"
    html = f"<p>Hi {{{{ input.name | default('there') }}}},</p>\n<p>{intro}</p>\n<p>— The team</p>\n"
    return EmailContent(subject, text, html)


SEED_TEMPLATES = {
    "generic_welcome": _seed("Welcome aboard", "Thanks for signing up. We are glad to have you."),
    "united_welcome": _seed("Welcome to United", "Your United membership is active. Here is how to get started."),
    "podcast_welcome": _seed("Welcome to the podcast", "New episodes will reach you as soon as they are out."),
    "newsletter_welcome": _seed("You are subscribed", "Our newsletter will reach you once a week."),
    "engagement_nudge": _seed("We miss you", "You have not been around for a while. Here is what you missed."),
    "value_highlight": _seed("Get more out of your account", "Here are three features our users love most."),
}

_SEED = """
INSERT INTO email_templates (name, subject, text_body, html_body)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
ON CONFLICT (name) DO NOTHING
"""


async def seed_templates(conn: Conn) -> None:
    """Add the standard templates that are missing; never overwrite an edited one."""
    await conn.execute(
        _SEED,
        list(SEED_TEMPLATES),
        [t.subject for t in SEED_TEMPLATES.values()],
        [t.text_body for t in SEED_TEMPLATES.values()],
        [t.html_body for t in SEED_TEMPLATES.values()],
    )


_GET = "SELECT subject, text_body, html_body FROM email_templates WHERE name = $1"


async def get_template(conn: Conn, name: str) -> EmailContent:
    """Find a template by name; a missing one fails the step for good."""
    row = await conn.fetchrow(_GET, name)
    if row is None:
        raise PermanentStepError(f"email template {name!r} does not exist", template=name)
    return EmailContent(**dict(row))
