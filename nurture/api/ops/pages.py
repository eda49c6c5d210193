"""`/ops` pages: the dashboard, search, one prospect's history, and the login form."""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.auth import (
    LANDING,
    OpsSession,
    close_session,
    csrf_ok,
    current_session,
    key_matches,
    open_session,
    safe_next,
)
from nurture.api.ops.render import page
from nurture.api.params import Count, RowId
from nurture.config import Settings
from nurture.core.inputs import parse_id
from nurture.core.states import LIVE_ENROLLMENTS, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.errors import NotFoundError
from nurture.ops.broker import CachedPing
from nurture.ops.health import snapshot
from nurture.ops.history import contact_history, needing_attention, search_contacts
from nurture.ops.inbox import conversation
from nurture.ops.prospects import STATES, prospect_state

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
log = structlog.get_logger(__name__)

#: One ping per ten seconds at most, however many pages refresh.
worker_ping = CachedPing(ttl_s=10.0)
#: What a finished action says on the page it returns to (never text taken from the URL).
DONE = {
    "retried": "Delivery {id} will be sent again as soon as its window allows.",
    "canceled": "Delivery {id} canceled.",
    "resolved-sent": "Delivery {id} marked sent.",
    "resolved-not-sent": "Delivery {id} marked failed (not sent).",
    "booked": "Marked as booked: their follow-up messages stopped.",
    "stop": "Stopped: they get no further messages.",
    "resume": "Resumed: their messages go on, shifted by the pause.",
}


def figures(settings: Settings, now: datetime) -> dict[str, object]:
    """The same figures as `GET /ops/status` and `nurture status --json`."""
    return snapshot(
        settings,
        now=now,
        ping=lambda: worker_ping(settings, timeout_s=settings.ops_ping_timeout_s),
    )


def login_page(next_url: str, *, error: str | None = None, status_code: int = 401) -> Response:
    return page("login.html.j2", status_code=status_code, next=next_url, error=error)


def _flash(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    delivery_id = parse_id(request.query_params.get("id"))
    if done in DONE and delivery_id is not None:
        return DONE[done].format(id=delivery_id)
    return None


@router.get("/login")
def login_form(
    request: Request, next: str = LANDING, settings: Settings = Depends(settings_dep)
) -> Response:
    if current_session(request, settings) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(safe_next(next), status_code=200)


@router.post("/login")
def login(
    request: Request,
    api_key: str = Form(""),
    next: str = Form(LANDING),
    settings: Settings = Depends(settings_dep),
) -> Response:
    if not key_matches(settings, api_key):
        log.warning("ops.login", outcome="refused")
        return login_page(safe_next(next), error="That is not the API key.")
    log.info("ops.login", outcome="ok")
    response = RedirectResponse(safe_next(next), status_code=303)
    open_session(response, request, settings)
    return response


@router.post("/logout")
def logout(
    request: Request, csrf_token: str = Form(""), settings: Settings = Depends(settings_dep)
) -> Response:
    session = current_session(request, settings)
    if session is not None and not csrf_ok(session, csrf_token):
        return page(
            "message.html.j2",
            status_code=403,
            session=session,
            title="Refused",
            message="The form was stale or forged (CSRF check failed).",
        )
    response = RedirectResponse("/ops/login", status_code=303)
    close_session(response)
    return response


@router.get("")
def dashboard(
    request: Request,
    refresh: Count | None = None,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    session = current_session(request, settings)
    here = "/ops" if refresh is None else f"/ops?refresh={max(refresh, 0)}"
    if session is None:
        return login_page(here)
    with session_scope() as db:
        attention = needing_attention(db, limit=50)
    return page(
        "dashboard.html.j2",
        scripts=True,
        session=session,
        figures=figures(settings, now),
        attention=attention,
        states=[s.value for s in DeliveryStatus],
        flash=_flash(request),
        refresh_s=settings.ops_refresh_s if refresh is None else max(refresh, 0),
        here=here,
    )


@router.get("/search")
def search(request: Request, q: str = "", settings: Settings = Depends(settings_dep)) -> Response:
    session = current_session(request, settings)
    if session is None:
        return login_page("/ops")
    with session_scope() as db:
        contacts = search_contacts(db, q[:320])
    return page("search.html.j2", session=session, q=q, contacts=contacts, here="/ops/search")


# role: front-desk
@router.get("/contacts/{contact_id}")
def contact(
    request: Request,
    contact_id: RowId,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    session = current_session(request, settings)
    here = f"/ops/contacts/{contact_id}"
    if session is None:
        return login_page(here)
    try:
        with session_scope() as db:
            history = contact_history(db, contact_id)
            said = conversation(db, contact_id)
            state = prospect_state(db, contact_id, now=now)
    except NotFoundError as exc:
        return not_found(session, str(exc))
    runs = [e.status for e in history.enrollments]
    return page(
        "contact.html.j2",
        session=session,
        h=history,
        conversation=said,
        state=state,
        state_words=STATES[state],
        live=any(r in LIVE_ENROLLMENTS for r in runs),
        paused=EnrollmentStatus.PAUSED in runs,
        section="prospects",
        flash=_flash(request),
        here=here,
    )


def not_found(session: OpsSession, message: str) -> Response:
    return page(
        "message.html.j2", status_code=404, session=session, title="Not found", message=message
    )
