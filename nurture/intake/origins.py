"""The websites allowed to frame the hosted form and post to it: `NURTURE_FORM_ORIGINS`, and
the sites recorded in the database by `nurture form-snippet --site` (read on each request,
so a new site works without a restart)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from nurture.config import Settings, parse_origins
from nurture.db import session_scope
from nurture.db.tables import FormOrigin
from nurture.intake.formguard import origin_of


def allowed_origins(settings: Settings) -> tuple[str, ...]:
    """Every allowed origin: the setting's, then the recorded ones (none while the database
    cannot answer: the form then falls back to the setting alone)."""
    configured = parse_origins(settings.form_origins)
    try:
        with session_scope() as session:
            recorded = tuple(session.scalars(select(FormOrigin.origin).order_by(FormOrigin.id)))
    except SQLAlchemyError:
        recorded = ()
    return tuple(dict.fromkeys(configured + recorded))


def record_origin(site: str, *, now: datetime) -> str:
    """Record a website as allowed (idempotent); its origin, or ValueError naming the problem."""
    # A page's address will do: only its scheme, host and port are kept.
    (origin,) = parse_origins(origin_of(site) or site) or ("",)
    if not origin:
        raise ValueError("give the website's address, e.g. https://clinic.example")
    with session_scope() as session:
        if session.scalar(select(FormOrigin.id).where(FormOrigin.origin == origin)) is None:
            session.add(FormOrigin(origin=origin, added_at=now))
    return origin
