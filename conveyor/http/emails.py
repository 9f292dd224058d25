"""/emails: the email log, found by filters a page at a time, and counted."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime

from aiohttp import web
from pydantic import Field, field_validator

from conveyor.http.cursor import PageQuery, created_cursor, page_of
from conveyor.http.instant import Instant
from conveyor.http.keys import POOL
from conveyor.http.operation import Count, QueryModel, operation, query_of
from conveyor.http.resources import Answer, EmailAnswer, Page
from conveyor.http.scoping import namespace_of
from conveyor.http.shapes import email_shape, respond
from conveyor.store import connection
from conveyor.store.delivery import DeliveryStatus
from conveyor.store.emails import EmailCount, EmailFilter, count_emails, list_emails

routes = web.RouteTableDef()

_STATUSES = [s.value for s in DeliveryStatus]
_MAX_DAYS = 366


class EmailQuery(PageQuery):
    """The filters of GET /emails: each given one narrows the list."""

    execution: uuid.UUID | None = Field(default=None, description="the execution that sent them")
    status: str | None = Field(
        default=None,
        description=f"one status or several separated by commas, of: {', '.join(_STATUSES)}",
        max_length=200,
    )
    template: str | None = Field(default=None, min_length=1, max_length=200)
    to: str | None = Field(default=None, min_length=1, max_length=500, description="the recipient's address")
    created_after: Instant | None = None
    created_before: Instant | None = None

    @field_validator("status")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [s.strip() for s in value.split(",") if s.strip()]
        unknown = [s for s in names if s not in _STATUSES]
        if not names or unknown:
            raise ValueError(f"takes statuses separated by commas, of: {', '.join(_STATUSES)}")
        return ",".join(dict.fromkeys(names))

    @field_validator("created_after", "created_before", mode="before")
    @classmethod
    def _plus(cls, value: object) -> object:
        # An unencoded "+" of a UTC offset arrives as a space.
        return value.strip().replace(" ", "+") if isinstance(value, str) and "T" in value else value

    def chosen(self, namespace: str) -> EmailFilter:
        """The store's filter, in the namespace."""
        return EmailFilter(
            namespace=namespace,
            execution_id=self.execution,
            statuses=tuple(self.status.split(",")) if self.status else (),
            template=self.template,
            recipient=self.to,
            created_after=self.created_after,
            created_before=self.created_before,
        )


@routes.get("/emails")
@operation(Page[EmailAnswer], query=EmailQuery, errors=(422,))
async def get_emails(request: web.Request) -> web.Response:
    """Emails newest first, filtered by execution, status, template, recipient and creation time, a page at a
    time."""
    query = query_of(request, EmailQuery)
    after = created_cursor(request)
    async with connection(request.app[POOL]) as conn:
        found = await list_emails(conn, query.chosen(namespace_of(request)), after, query.limit + 1)
    return respond(page_of(found, query.limit, email_shape, lambda e: (e.created_at.isoformat(), str(e.id))))


class StatisticsQuery(QueryModel):
    """The window of GET /emails/statistics."""

    days: Count = Field(default=30, ge=1, le=_MAX_DAYS, description="whole UTC days, today's included")


class StatusCounts(Answer):
    """Emails by delivery status; `total` is their sum."""

    total: int
    sent: int
    logged: int
    failed: int
    sending: int


class TemplateCounts(StatusCounts):
    """One template's emails by status."""

    template: str


class DayCounts(StatusCounts):
    """One UTC day's emails by status; every day of the window is listed, quiet ones with zeros."""

    day: date


class EmailStatisticsAnswer(Answer):
    """The emails of a window of whole UTC days by status: overall, by template, and by day."""

    since: datetime
    until: datetime
    days: int
    counts: StatusCounts
    by_template: list[TemplateCounts]
    by_day: list[DayCounts]


def _by_status(counts: list[EmailCount]) -> dict[str, int]:
    tally: Counter[str] = Counter()
    for c in counts:
        tally[c.status] += c.count
    return {"total": tally.total(), **{s: tally[s] for s in _STATUSES}}


@routes.get("/emails/statistics")
@operation(EmailStatisticsAnswer, query=StatisticsQuery, errors=(422,))
async def get_statistics(request: web.Request) -> web.Response:
    """Emails of the last ?days= UTC days (30; at most 366) by status: overall, by template and by day."""
    days = query_of(request, StatisticsQuery).days
    async with connection(request.app[POOL]) as conn:
        stats = await count_emails(conn, days, namespace_of(request))
    overall: list[EmailCount] = []
    templates: dict[str, list[EmailCount]] = {}
    by_day: dict[date, list[EmailCount]] = {}
    for c in stats.counts:
        if c.template is not None:
            templates.setdefault(c.template, []).append(c)
        elif c.day is not None:
            by_day.setdefault(c.day, []).append(c)
        else:
            overall.append(c)
    window = [date.fromordinal(stats.since.date().toordinal() + i) for i in range(days)]
    return respond(
        EmailStatisticsAnswer(
            since=stats.since,
            until=stats.until,
            days=days,
            counts=StatusCounts(**_by_status(overall)),
            by_template=[TemplateCounts(template=t, **_by_status(templates[t])) for t in sorted(templates)],
            by_day=[DayCounts(day=d, **_by_status(by_day.get(d, []))) for d in window],
        )
    )
