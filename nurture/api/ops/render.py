"""Server-rendered pages (`/ops`, `/studio`): one Jinja environment, its filters (the one
home of how a page shows a time), safe response headers."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from nurture.api.headers import PAGE_HEADERS
from nurture.config import get_settings
from nurture.content.live import live_catalog
from nurture.core.zones import zone
from nurture.db import session_scope
from nurture.db.tables import Draft
from nurture.edit.drafts import Drafts
from nurture.edit.files import CatalogFiles
from nurture.edit.settings import current, examples, is_example
from nurture.errors import NurtureError
from nurture.ops.health import human_duration
from nurture.ops.today import Waiting, waiting_counts
from nurture.ops.words import ENROLLMENT, consent_words, delivery_words
from nurture.steering.deliveries import resend_refusal

#: clinic.yaml, as drafts name it.
CLINIC_PATH = "schedules/clinic.yaml"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

#: The studio's pages frame its own previews (and nothing else).
FRAMES_SELF = "frame-src 'self'"
#: A page with a script of ours (a file we serve, never inline) that asks us for more.
SCRIPTS_SELF = "script-src 'self'; connect-src 'self'"


def clinic_zone() -> ZoneInfo:
    """The clinic's timezone (clinic.yaml `timezone`, of the last good schedules); UTC while
    no valid schedules were ever loaded."""
    catalog = live_catalog(get_settings()).current
    try:
        return zone(catalog.clinic.timezone) if catalog is not None else ZoneInfo("UTC")
    except NurtureError:
        return ZoneInfo("UTC")


def _instant(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _local(moment: datetime, tz: ZoneInfo) -> str:
    at = moment.astimezone(tz)
    return f"{at:%a} {at.day} {at:%b %Y}, {at:%H:%M} {at:%Z}"


@pass_context
def when(context: Context, value: datetime | str | None, prospect_zone: str | None = None) -> str:
    """A time as the clinic reads it, in clinic.yaml's timezone with its abbreviation
    ("Tue 3 Mar 2026, 09:00 EST"), the exact UTC instant in the tag; with `prospect_zone`,
    also the prospect's own local time when it differs. Every page shows times this way."""
    if value is None or value == "":
        return ""
    moment = _instant(value)
    # Macros imported without context (`{% from … import %}`) have no `clinic_zone`.
    tz = context.get("clinic_zone") or clinic_zone()
    utc = moment.astimezone(UTC)
    shown = _local(moment, tz)
    html = (
        f'<time datetime="{utc:%Y-%m-%dT%H:%M:%SZ}" title="{utc:%Y-%m-%d %H:%M:%S} UTC">'
        f"{escape(shown)}</time>"
    )
    if prospect_zone:
        try:
            theirs = moment.astimezone(zone(prospect_zone))
        except NurtureError:
            theirs = None
        ours = moment.astimezone(tz)
        if theirs is not None and theirs.utcoffset() != ours.utcoffset():
            day = "" if theirs.date() == ours.date() else f" {theirs:%a}"
            html += (
                f' <span class="their-time">(their time: {theirs:%H:%M} {theirs:%Z}{day})</span>'
            )
    return Markup(html)


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
        # ops templates by bare name; studio templates as "studio/...", sharing ops' base.
        loader=FileSystemLoader([TEMPLATES / "ops", TEMPLATES]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["duration"] = human_duration
    env.filters["local"] = local
    env.filters["consent_words"] = consent_words
    env.filters["delivery_words"] = lambda d: delivery_words(d.status.value, d.error_code)
    env.filters["run_words"] = lambda status: ENROLLMENT.get(status.value, status.value)
    env.tests["resendable"] = lambda d: resend_refusal(d) is None
    return env


def _waits() -> Waiting | None:
    """What waits for a person, for the staff navigation; None if the database cannot say."""
    try:
        with session_scope() as db:
            return waiting_counts(db)
    except SQLAlchemyError:
        return None


def _drafts_waiting() -> int:
    """Studio drafts not yet published, for the staff navigation (0 if the database cannot
    say)."""
    try:
        with session_scope() as db:
            return int(db.scalar(select(func.count()).select_from(Draft)) or 0)
    except SQLAlchemyError:
        return 0


def _notify_set() -> bool:
    """Whether clinic.yaml names staff to tell (`notify`)."""
    catalog = live_catalog(get_settings()).current
    notify = catalog.clinic.notify if catalog is not None else None
    return bool(notify and (notify.email or notify.sms))


def _clinic_examples() -> dict[str, bool] | None:
    """While the clinic that is sent from still holds the shipped examples (CHANGE-ME):
    whether a draft already replaces them all (then publishing is what is left); None when
    the clinic's details are real."""
    settings = get_settings()
    catalog = live_catalog(settings).current
    if catalog is None or not is_example(catalog.clinic.model_dump()):
        return None
    try:
        draft = Drafts(CatalogFiles.of(settings)).get(CLINIC_PATH)
        text = draft.text if draft is not None else None
        replaced = text is not None and not examples(current(text))
    except (SQLAlchemyError, NurtureError):
        replaced = False
    return {"replaced": replaced}


def page(
    template: str,
    *,
    status_code: int = 200,
    frames: bool = False,
    scripts: bool = False,
    **context: Any,
) -> HTMLResponse:
    """Render `template` as an HTML response with the pages' headers; `frames` lets the page
    frame our own previews, `scripts` run our own script files (and fetch from us). Every
    page gets `clinic_zone` for the `when` filter."""
    context.setdefault("clinic_zone", clinic_zone())
    if context.get("session"):
        context.setdefault("waits", _waits())
        waits = context["waits"]
        context.setdefault("notify_missing", bool(waits and waits.any and not _notify_set()))
        context.setdefault("drafts_waiting", _drafts_waiting())
        context.setdefault("clinic_examples", _clinic_examples())
    html = environment().get_template(template).render(**context)
    headers = dict(PAGE_HEADERS)
    if frames:
        headers["Content-Security-Policy"] += f"; {FRAMES_SELF}"
    if scripts:
        headers["Content-Security-Policy"] += f"; {SCRIPTS_SELF}"
    return HTMLResponse(html, status_code=status_code, headers=headers)


def refused(session: object, status_code: int, message: str, **context: Any) -> HTMLResponse:
    """The page a button answers with when it did nothing, saying why ("Not done")."""
    return page(
        "message.html.j2",
        status_code=status_code,
        session=session,
        title="Not done",
        message=message,
        **context,
    )
