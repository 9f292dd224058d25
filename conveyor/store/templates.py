"""Email templates, and the ones every installation starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.errors import NotFoundError, PermanentStepError
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


@dataclass(frozen=True, slots=True)
class EmailTemplate:
    """A stored email template, for operators to read and edit."""

    name: str
    subject: str
    text_body: str
    html_body: str | None
    updated_at: datetime


_TEMPLATE_COLUMNS = "name, subject, text_body, html_body, updated_at"
_LIST = f"""
SELECT {_TEMPLATE_COLUMNS} FROM email_templates
WHERE $1::text IS NULL OR name > $1
ORDER BY name
LIMIT $2
"""


async def list_templates(conn: Conn, after: str | None, limit: int) -> list[EmailTemplate]:
    """Templates in name order, after the name `after` when given."""
    return [EmailTemplate(**dict(r)) for r in await conn.fetch(_LIST, after, limit)]


_BY_NAME = f"SELECT {_TEMPLATE_COLUMNS} FROM email_templates WHERE name = $1"


async def get_email_template(conn: Conn, name: str) -> EmailTemplate:
    """One template by name; NotFoundError when there is none."""
    row = await conn.fetchrow(_BY_NAME, name)
    if row is None:
        raise NotFoundError(f"email template {name!r} not found", field="name", value=name)
    return EmailTemplate(**dict(row))


_PUT = f"""
INSERT INTO email_templates (name, subject, text_body, html_body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO UPDATE
SET subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body, updated_at = now()
RETURNING {_TEMPLATE_COLUMNS}, (xmax = 0) AS created
"""


async def put_template(conn: Conn, name: str, content: EmailContent) -> tuple[EmailTemplate, bool]:
    """Create or replace a template; True when it is new."""
    row = await conn.fetchrow(_PUT, name, content.subject, content.text_body, content.html_body)
    assert row is not None
    record = dict(row)
    created = bool(record.pop("created"))
    return EmailTemplate(**record), created


_EXISTING = "SELECT name FROM email_templates WHERE name = ANY($1::text[])"


async def existing_template_names(conn: Conn, names: list[str]) -> set[str]:
    """Which of these names name a stored template."""
    return {r["name"] for r in await conn.fetch(_EXISTING, names)}
