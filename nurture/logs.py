"""Structured logs: JSON in production, readable in a terminal; never bodies or health data."""

from __future__ import annotations

import logging
import sys

import structlog

from nurture.config import Settings

#: Keys that must never reach a log line, whatever a caller passes.
REDACTED_KEYS = frozenset(
    {
        "body",
        "text",
        "html",
        "subject",
        "message",
        "concern",
        "to",
        "email",
        "phone",
        "first_name",
        "last_name",
    }
)


def _redact(_: object, __: str, event_dict: structlog.types.EventDict) -> structlog.types.EventDict:
    for key in REDACTED_KEYS & event_dict.keys():
        event_dict[key] = "[redacted]"
    return event_dict


#: Celery's own line for every task received and finished, and beat's for every tick: at one
#: dispatcher tick a second they bury what matters. nurture logs what a task did instead
#: (a send, a hold, a tick that claimed something), so these show at DEBUG only.
_CHATTER = (
    ("celery.worker.strategy", "Task %(name)s[%(id)s] received"),
    ("celery.app.trace", "Task %(name)s[%(id)s] succeeded in"),
    ("celery.beat", "Scheduler: Sending due task"),
)


class QuietTicks(logging.Filter):
    """Drops Celery's per-task and per-tick INFO lines (see `_CHATTER`) unless at DEBUG."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.keep = level <= logging.DEBUG

    def filter(self, record: logging.LogRecord) -> bool:
        if self.keep or record.levelno != logging.INFO:
            return True
        text = str(record.msg)
        return not any(record.name == name and text.startswith(s) for name, s in _CHATTER)


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging through one renderer."""
    json_logs = settings.log_format == "json" or (
        settings.log_format == "auto" and not sys.stderr.isatty()
    )
    # JSON lines carry a failure's traceback as text ("exception"); the console renders it.
    rendering: list[structlog.types.Processor] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if json_logs
        else [structlog.dev.ConsoleRenderer()]
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    handler.addFilter(QuietTicks(root.level))
    # HTTP client libraries log whole URLs at INFO, and a query string may hold an address.
    for name in ("httpx", "httpx2", "httpcore", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Alembic announces each plugin it loads: nothing an operator acts on.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
