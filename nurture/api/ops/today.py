"""`GET /today`: where staff land after logging in: what waits for a person, each with its
action. "New" means since the person's last visit, remembered in a cookie (else 24 h)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from nurture.api.access import Principal, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.render import page
from nurture.config import Settings
from nurture.db import session_scope
from nurture.ops.prospects import STATES
from nurture.ops.today import today
from nurture.people.roles import Role

router = APIRouter(tags=["ops"], include_in_schema=False)

VISIT_COOKIE = "nurture_visit"
#: A reload within this time is the same visit: what was new stays new.
SAME_VISIT = timedelta(hours=1)
#: Without a last visit, or after a long absence, "new" looks back this far at most.
DEFAULT_SINCE = timedelta(hours=24)
LONGEST_SINCE = timedelta(days=7)


def visit_window(raw: str | None, now: datetime) -> tuple[datetime, datetime]:
    """(new since, last seen) from the cookie `since|seen`; a visit starts after an hour away."""
    since, seen = now - DEFAULT_SINCE, now
    try:
        first, _, second = (raw or "").partition("|")
        stored_since, stored_seen = datetime.fromisoformat(first), datetime.fromisoformat(second)
    except ValueError:
        return since, seen
    if stored_since.tzinfo is None or stored_seen.tzinfo is None or stored_seen > now:
        return since, seen
    since = stored_since if now - stored_seen < SAME_VISIT else stored_seen
    return max(since, now - LONGEST_SINCE), now


@router.get("/today")
def today_page(
    request: Request,
    session: Principal = Depends(need(Role.VIEWER, "see what waits today")),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    since, seen = visit_window(request.cookies.get(VISIT_COOKIE), now)
    with session_scope() as db:
        found = today(db, since=since, now=now)
    response = page(
        "today.html.j2",
        session=session,
        section="today",
        t=found,
        states=STATES,
        here="/today",
    )
    response.set_cookie(
        VISIT_COOKIE,
        f"{since.isoformat()}|{seen.isoformat()}",
        max_age=int(LONGEST_SINCE.total_seconds()),
        path="/today",
        httponly=True,
        samesite="strict",
        secure=settings.public_url.startswith("https://") or request.url.scheme == "https",
    )
    return response
