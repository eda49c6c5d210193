"""`/ops` pages: the dashboard, search, one prospect's history."""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from nurture.api.access import Principal, need
from nurture.api.deps import client_ip, now_dep, settings_dep
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
from nurture.ops.who import booked_by
from nurture.people.audit import AuditAction, record
from nurture.people.roles import Role

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


def _flash(request: Request) -> str | None:
    done = request.query_params.get("done", "")
    delivery_id = parse_id(request.query_params.get("id"))
    if done in DONE and delivery_id is not None:
        return DONE[done].format(id=delivery_id)
    return None


@router.get("")
def dashboard(
    request: Request,
    refresh: Count | None = None,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.VIEWER, "see the dashboard")),
) -> Response:
    here = "/ops" if refresh is None else f"/ops?refresh={max(refresh, 0)}"
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
def search(
    q: str = "", session: Principal = Depends(need(Role.VIEWER, "search prospects"))
) -> Response:
    with session_scope() as db:
        contacts = search_contacts(db, q[:320])
    return page("search.html.j2", session=session, q=q, contacts=contacts, here="/ops/search")


@router.get("/contacts/{contact_id}")
def contact(
    request: Request,
    contact_id: RowId,
    session: Principal = Depends(need(Role.VIEWER, "see a prospect")),
    now: datetime = Depends(now_dep),
) -> Response:
    here = f"/ops/contacts/{contact_id}"
    try:
        with session_scope() as db:
            history = contact_history(db, contact_id)
            said = conversation(db, contact_id)
            state = prospect_state(db, contact_id, now=now)
            marked_by = booked_by(db, contact_id)
            target, ip = f"contact:{contact_id}", client_ip(request)
            record(
                db.connection(),
                actor=session.actor,
                action=AuditAction.PROSPECT_VIEWED,
                target=target,
                ip=ip,
            )
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
        booked_by=marked_by,
        live=any(r in LIVE_ENROLLMENTS for r in runs),
        paused=EnrollmentStatus.PAUSED in runs,
        section="prospects",
        flash=_flash(request),
        here=here,
    )


def not_found(session: Principal, message: str) -> Response:
    return page(
        "message.html.j2", status_code=404, session=session, title="Not found", message=message
    )
