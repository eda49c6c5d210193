"""`/ops/replies`: the replies inbox, and its buttons (handled, resume, stop, booked, answer).

Anyone signed in reads it (viewers without the message text); front desk and up act.
Each button calls the service that owns the rule (`steering/replies.py`, `steering/stop.py`,
`steering/answers.py`); the page only translates. An answer is queued for the worker, which
sends it through the channels.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from nurture.api.access import Principal, need
from nurture.api.deps import catalog_dep, client_ip, now_dep
from nurture.api.ops.render import page, refused
from nurture.api.params import RowId
from nurture.core.inputs import parse_id
from nurture.db import session_scope
from nurture.db.tables import Contact, InboundMessage
from nurture.errors import InvalidStateError, InvalidValueError, NotFoundError
from nurture.ops.inbox import inbox
from nurture.people.audit import AuditAction, record
from nurture.people.roles import Role
from nurture.schedule.catalog import Catalog
from nurture.steering.answers import queue_answer
from nurture.steering.replies import mark_handled, resume_contact
from nurture.steering.stop import mark_booked, stop_contact

#: Where a refused inbox button leads back to.
BACK = "/ops/replies"
router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
log = structlog.get_logger(__name__)

Action = Literal["handled", "resume", "stop", "booked", "answer"]
#: What a finished action says on the inbox (never text taken from the URL).
DONE = {
    "handled": "Reply {id} marked handled.",
    "resume": "Reply {id}: the prospect's sequence resumes; its next messages keep their spacing.",
    "stop": "Reply {id}: the prospect's sequences are stopped; nothing more will be sent.",
    "booked": "Reply {id}: the prospect is marked booked; sequences that stop on booking stopped.",
    "answer": "Reply {id}: your answer is queued and goes out within seconds.",
    "answer-held": (
        "Reply {id}: it is quiet hours where the prospect is, so your answer is held: "
        "it goes at the time shown under the reply."
    ),
}


@router.get("/replies")
def replies_page(
    request: Request,
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.VIEWER, "see the replies inbox")),
) -> Response:
    with session_scope() as db:
        rows = inbox(db)
    done, reply_id = request.query_params.get("done", ""), parse_id(request.query_params.get("id"))
    flash = DONE[done].format(id=reply_id) if done in DONE and reply_id is not None else None
    return page(
        "replies.html.j2",
        session=session,
        rows=rows,
        waiting=sum(r.waiting for r in rows),
        flash=flash,
        here="/ops/replies",
        section="replies",
        form_key=lambda: secrets.token_urlsafe(12),
        now=now,
    )


@router.post("/replies/{reply_id}/{action}")
def reply_action(
    request: Request,
    reply_id: RowId,
    action: Action,
    text: str = Form(""),
    form_key: str = Form(""),
    catalog: Catalog = Depends(catalog_dep),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.FRONT_DESK, "act on replies")),
) -> Response:
    """Apply one button to one reply; back to the inbox with a note, or a page saying why not."""
    done: str = action
    try:
        with session_scope() as db:
            if action == "answer":
                answered = queue_answer(
                    db,
                    reply_id,
                    text,
                    form_key=form_key or secrets.token_urlsafe(12),
                    clinic_tz=catalog.clinic.timezone,
                    now=now,
                )
                done = "answer-held" if answered.held else "answer"
                action_done, target = AuditAction.REPLY_ANSWERED, f"reply:{reply_id}"
            else:
                action_done, target = _act(db, reply_id, action, catalog, now)
            detail = {"button": action, "reply": reply_id}
            ip = client_ip(request)
            record(
                db.connection(),
                actor=session.actor,
                action=action_done,
                target=target,
                detail=detail,
                ip=ip,
            )
    except NotFoundError as exc:
        return refused(session, 404, str(exc), back=BACK)
    except InvalidValueError as exc:
        return refused(session, 422, str(exc), back=BACK)
    except InvalidStateError as exc:
        return refused(session, 409, str(exc), back=BACK)
    log.info("ops.reply_action", action=done, reply_id=reply_id, via=session.via)
    if session.via == "bearer":
        return JSONResponse({"id": reply_id, "done": done})
    return RedirectResponse(
        f"/ops/replies?done={done}&id={reply_id}#reply-{reply_id}", status_code=303
    )


def _act(
    db: Session, reply_id: int, action: str, catalog: Catalog, now: datetime
) -> tuple[AuditAction, str]:
    """Apply a button other than answer; what the audit trail records, and on what."""
    reply = db.get(InboundMessage, reply_id)
    if reply is None or reply.kind not in ("reply", "auto"):
        raise NotFoundError(f"no reply {reply_id}")
    if action == "handled":
        mark_handled(db, reply_id, now=now)
        return AuditAction.REPLY_RESOLVED, f"reply:{reply_id}"
    contact = db.get(Contact, reply.contact_id) if reply.contact_id else None
    if contact is None:
        raise InvalidStateError(
            "this reply is from someone we do not know: there is no sequence to change"
        )
    if action == "resume":
        if resume_contact(db, contact, now=now) == 0:
            raise InvalidStateError("nothing to resume: this prospect has no paused sequence")
    elif action == "stop":
        stop_contact(db, contact, reason="ops", now=now)
    elif action == "booked":
        stopping = [s.id for s in catalog.sequences.values() if "booked" in s.stop_on]
        mark_booked(db, contact, now=now, source="ops", stop_sequences=stopping)
    reply.handled_at = reply.handled_at or now
    return AuditAction.PROSPECT_ACTION, f"contact:{contact.id}"
