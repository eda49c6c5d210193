"""`/ops/prospects` (everyone, with their state, filters, search, pages, CSV) and the buttons
of a prospect's page: `POST /ops/contacts/{id}/booked|stop|resume|erase`."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlencode

import structlog
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nurture.api.access import Principal, need
from nurture.api.deps import catalog_dep, client_ip, now_dep, settings_dep
from nurture.api.ops.pages import not_found
from nurture.api.ops.render import clinic_zone, page, refused
from nurture.api.params import Count, RowId
from nurture.config import Settings
from nurture.db import session_scope
from nurture.db.tables import Contact
from nurture.errors import AccessDenied, InvalidStateError, NotFoundError
from nurture.ops.prospects import (
    CSV_HEADER,
    STATES,
    count_states,
    csv_row,
    list_prospects,
)
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.people.roles import Role
from nurture.schedule import Catalog
from nurture.steering.bookings import book_contact
from nurture.steering.erase import erase_contact
from nurture.steering.replies import resume_contact
from nurture.steering.stop import stop_contact

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
log = structlog.get_logger(__name__)

StateFilter = Literal["", "new", "active", "waiting", "booked", "stopped", "nothing-sent"]
Action = Literal["booked", "stop", "resume"]
#: A stop reason is kept with each skipped message's code: short words, not a letter.
STOP_REASON_MAX = 40
#: What the prospect's page says after each button.
DONE = {
    "booked": "Marked as booked: their follow-up messages stopped.",
    "stop": "Stopped: they get no further messages.",
    "resume": "Resumed: their messages go on, shifted by the pause.",
}


@router.get("/prospects")
def prospects(
    request: Request,
    session: Principal = Depends(need(Role.VIEWER, "see the prospects")),
    status: Annotated[StateFilter, Query()] = "",
    q: Annotated[str, Query(max_length=320)] = "",
    page_number: Annotated[Count, Query(alias="page")] = 1,
    format: Annotated[Literal["", "html", "csv"], Query()] = "",
    now: datetime = Depends(now_dep),
) -> Response:
    here = str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
    if format == "csv":
        if not session.may(Role.MANAGER):
            raise AccessDenied(
                "To export the prospects you need the manager role or higher.",
                role=Role.MANAGER.value,
                what="export the prospects",
            )
        return _csv(status, q, now, actor=session.actor, ip=client_ip(request))
    with session_scope() as db:
        found = list_prospects(db, now=now, state=status or None, q=q, page=page_number)
        counts = count_states(db, now=now)
    return page(
        "prospects.html.j2",
        session=session,
        section="prospects",
        found=found,
        counts=counts,
        states=STATES,
        pager=_pager(status, q, found.page, found.pages),
        status=status,
        q=q,
        here=here,
    )


def _pager(status: str, q: str, number: int, pages: int) -> dict[str, str | None]:
    def link(n: int) -> str:
        query = {k: v for k, v in (("status", status), ("q", q)) if v}
        return "/ops/prospects?" + urlencode({**query, "page": n})

    return {
        "prev": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < pages else None,
    }


def _csv(status: str, q: str, now: datetime, *, actor: Actor, ip: str | None) -> Response:
    tz = clinic_zone()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    with session_scope() as db:
        number, pages = 1, 1
        while number <= pages:
            found = list_prospects(db, now=now, state=status or None, q=q, page=number)
            for row in found.rows:
                writer.writerow(csv_row(row, lambda at: f"{at.astimezone(tz):%Y-%m-%d %H:%M %Z}"))
            number, pages = number + 1, found.pages
        record(
            db.connection(),
            actor=actor,
            action=AuditAction.EXPORT,
            target="prospects",
            detail={"what": "prospects.csv", "state": status or "all", "search": bool(q)},
            ip=ip,
        )
    log.info("ops.prospects_export", state=status or "all")
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="prospects.csv"'},
    )


@router.post("/contacts/{contact_id}/erase")
def erase_prospect(
    request: Request,
    contact_id: RowId,
    confirm: str = Form(""),
    session: Principal = Depends(need(Role.MANAGER, "erase a prospect")),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """Erase after a confirm step: the first POST shows what will go, the second erases."""
    return _erase(
        session, contact_id, confirm=confirm, settings=settings, now=now, ip=client_ip(request)
    )


@router.post("/contacts/{contact_id}/{action}")
def act_on_prospect(
    request: Request,
    contact_id: RowId,
    action: Action,
    reason: str = Form(""),
    session: Principal = Depends(need(Role.FRONT_DESK, "mark booked, stop or resume a prospect")),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
) -> Response:
    """Act on one person; back to their page with a note, or a page saying why not."""
    back = f"/ops/contacts/{contact_id}"
    reason = " ".join(reason.split())
    if action == "stop" and not reason:
        return refused(session, 422, "Say why they are stopped (a few words).")
    if len(reason) > STOP_REASON_MAX:
        return refused(session, 422, f"Keep the reason under {STOP_REASON_MAX} characters.")
    try:
        with session_scope() as db:
            contact = db.get(Contact, contact_id)
            if contact is None:
                raise NotFoundError(f"no prospect {contact_id}")
            if action == "booked":
                book_contact(db, contact, catalog=catalog, now=now, source="ops")
            elif action == "stop":
                stop_contact(db, contact, reason=reason, now=now)
            elif resume_contact(db, contact, now=now) == 0:
                raise InvalidStateError("nothing to resume: no sequence of theirs is paused")
            record(
                db.connection(),
                actor=session.actor,
                action=AuditAction.PROSPECT_ACTION,
                target=f"contact:{contact_id}",
                detail={"done": action, "reason": reason or None},
                ip=client_ip(request),
            )
    except NotFoundError as exc:
        return not_found(session, str(exc))
    except InvalidStateError as exc:
        return refused(session, 409, str(exc))
    log.info("ops.prospect_action", action=action, contact_id=contact_id, via=session.via)
    if session.via == "bearer":
        return JSONResponse({"id": contact_id, "done": action})
    return RedirectResponse(f"{back}?done={action}&id={contact_id}", status_code=303)


def _erase(
    session: Principal,
    contact_id: int,
    *,
    confirm: str,
    settings: Settings,
    now: datetime,
    ip: str | None,
) -> Response:
    with session_scope() as db:
        contact = db.get(Contact, contact_id)
        if contact is None or contact.erased_at is not None:
            missing = True
        elif confirm != "erase":
            missing, erased = False, None
            name = f"{contact.first_name} {contact.last_name or ''}".strip()
        else:
            missing = False
            erased = erase_contact(db, contact, secret_key=settings.secret_key, now=now)
            record(
                db.connection(),
                actor=session.actor,
                action=AuditAction.ERASE,
                target=f"contact:{contact_id}",
                ip=ip,
            )
    # Pages render after the transaction: they read the database again for the navigation.
    if missing:
        return not_found(session, f"no prospect {contact_id}")
    if erased is None:
        return page(
            "erase.html.j2",
            session=session,
            section="prospects",
            contact_id=contact_id,
            name=name,
            here=f"/ops/contacts/{contact_id}",
        )
    erased.remove_files(settings.outbox_dir)
    log.info("ops.prospect_erased", contact_id=contact_id, via=session.via)
    if session.via == "bearer":
        return JSONResponse({"id": contact_id, "done": "erase"})
    return RedirectResponse("/ops/prospects?done=erased", status_code=303)
