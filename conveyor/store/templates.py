"""Email templates, and the ones every installation starts with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from conveyor.errors import NotFoundError, PermanentStepError
from conveyor.store import Conn
from conveyor.store.statement import Statement


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

# No conflict target: the same statement seeds a database made by an earlier release (a test of the migrations
# does), whose templates' key is the name alone.
_SEED = Statement("""
INSERT INTO email_templates (name, subject, text_body, html_body)
SELECT * FROM unnest(:names::text[], :subjects::text[], :text_bodies::text[], :html_bodies::text[])
ON CONFLICT DO NOTHING
""")


async def seed_templates(conn: Conn) -> None:
    """Add the standard templates that are missing to the default namespace; never overwrite an edited one."""
    await conn.execute(
        _SEED.sql,
        *_SEED.args(
            names=list(SEED_TEMPLATES),
            subjects=[t.subject for t in SEED_TEMPLATES.values()],
            text_bodies=[t.text_body for t in SEED_TEMPLATES.values()],
            html_bodies=[t.html_body for t in SEED_TEMPLATES.values()],
        ),
    )


_GET = Statement(
    "SELECT subject, text_body, html_body FROM email_templates WHERE namespace = :namespace AND name = :name"
)


async def get_template(conn: Conn, name: str, namespace: str) -> EmailContent:
    """Find a namespace's template by name; a missing one fails the step for good."""
    row = await conn.fetchrow(_GET.sql, *_GET.args(name=name, namespace=namespace))
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
_LIST = Statement(f"""
SELECT {_TEMPLATE_COLUMNS} FROM email_templates
WHERE namespace = :namespace AND (:after::text IS NULL OR name > :after)
ORDER BY name
LIMIT :limit
""")


async def list_templates(conn: Conn, namespace: str, after: str | None, limit: int) -> list[EmailTemplate]:
    """A namespace's templates in name order, after the name `after` when given."""
    args = _LIST.args(namespace=namespace, after=after, limit=limit)
    return [EmailTemplate(**dict(r)) for r in await conn.fetch(_LIST.sql, *args)]


_BY_NAME = Statement(f"SELECT {_TEMPLATE_COLUMNS} FROM email_templates WHERE namespace = :namespace AND name = :name")


async def get_email_template(conn: Conn, namespace: str, name: str) -> EmailTemplate:
    """One of the namespace's templates by name; NotFoundError when there is none."""
    row = await conn.fetchrow(_BY_NAME.sql, *_BY_NAME.args(namespace=namespace, name=name))
    if row is None:
        raise NotFoundError(f"email template {name!r} not found", field="name", value=name)
    return EmailTemplate(**dict(row))


_PUT = Statement(f"""
INSERT INTO email_templates (namespace, name, subject, text_body, html_body)
VALUES (:namespace, :name, :subject, :text_body, :html_body)
ON CONFLICT (namespace, name) DO UPDATE
SET subject = excluded.subject, text_body = excluded.text_body, html_body = excluded.html_body, updated_at = now()
RETURNING {_TEMPLATE_COLUMNS}, (xmax = 0) AS created
""")


async def put_template(conn: Conn, namespace: str, name: str, content: EmailContent) -> tuple[EmailTemplate, bool]:
    """Create or replace a namespace's template; True when it is new."""
    row = await conn.fetchrow(
        _PUT.sql,
        *_PUT.args(
            namespace=namespace,
            name=name,
            subject=content.subject,
            text_body=content.text_body,
            html_body=content.html_body,
        ),
    )
    assert row is not None
    record = dict(row)
    created = bool(record.pop("created"))
    return EmailTemplate(**record), created


_EXISTING = Statement("SELECT name FROM email_templates WHERE namespace = :namespace AND name = ANY(:names::text[])")


async def existing_template_names(conn: Conn, names: list[str], namespace: str) -> set[str]:
    """Which of these names name a stored template of the namespace."""
    args = _EXISTING.args(names=names, namespace=namespace)
    return {r["name"] for r in await conn.fetch(_EXISTING.sql, *args)}
