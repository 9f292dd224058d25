"""structlog set-up: console lines for people, JSON lines for machines, known secrets redacted in both."""

from __future__ import annotations

import logging
import sys

import structlog

from conveyor.redaction import RedactingFilter, redact_event


def processors(log_format: str = "console") -> list[structlog.typing.Processor]:
    """The processor chain: context, level, time, exceptions, redaction of known secrets, then the renderer."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer()
    )
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_event,  # last before rendering: it sees every field, tracebacks included
        renderer,
    ]


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    """Route structlog and the standard library's logging through one renderer."""
    structlog.configure(
        processors=processors(log_format),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping().get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
