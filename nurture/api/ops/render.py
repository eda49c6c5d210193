"""Server-rendered ops pages: one Jinja environment, a few filters, safe response headers."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from nurture.ops.health import human_duration

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "ops"

#: No script, no third-party anything; forms post only to us; never framed.
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def when(value: datetime | None) -> str:
    """A UTC instant as 2026-03-03 12:00:05 (the page says UTC once)."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def local(value: datetime | None, zone_name: str | None) -> str:
    """A UTC instant on the prospect's wall clock: Tue 08:00 (America/New_York)."""
    if value is None or not zone_name:
        return ""
    try:
        tz = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    return f"{value.astimezone(tz):%a %H:%M} ({zone_name})"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = human_duration
    env.filters["local"] = local
    return env


def page(template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` (under templates/ops) as an HTML response with the ops headers."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=_HEADERS)
