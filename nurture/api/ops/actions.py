"""The ops buttons: retry, cancel, resolve. POST only, CSRF-checked, through `steering`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nurture.api.deps import actor_dep, client_ip, now_dep, settings_dep
from nurture.api.ops.auth import csrf_ok, current_session, safe_next
from nurture.api.ops.pages import login_page
from nurture.api.ops.render import page
from nurture.api.params import RowId
from nurture.config import Settings
from nurture.db import session_scope
from nurture.errors import InvalidStateError, NotFoundError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.steering.deliveries import cancel_delivery, resolve_unknown, retry_delivery

router = APIRouter(prefix="/ops", tags=["ops"], include_in_schema=False)
log = structlog.get_logger(__name__)

Action = Literal["retry", "cancel", "resolve"]
AUDITED = {
    "retry": AuditAction.DELIVERY_RETRY,
    "cancel": AuditAction.DELIVERY_CANCEL,
    "resolve": AuditAction.DELIVERY_RESOLVED,
}


@router.post("/deliveries/{delivery_id}/{action}")
def act(
    request: Request,
    delivery_id: RowId,
    action: Action,
    csrf_token: str = Form(""),
    sent: Literal["", "true", "false"] = Form(""),
    next: str = Form("/ops"),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    actor: Actor = Depends(actor_dep),
) -> Response:
    """Apply one action to one delivery; back to `next` with a note, or a page saying why not."""
    session = current_session(request, settings)
    back = safe_next(next)
    if session is None:
        return login_page(back)
    if not csrf_ok(session, csrf_token):
        log.warning("ops.csrf_refused", action=action, delivery_id=delivery_id)
        return page(
            "message.html.j2",
            status_code=403,
            session=session,
            title="Refused",
            message="The form was stale or forged (CSRF check failed). Reload the page and retry.",
        )
    if action == "resolve" and not sent:
        return _refused(session, 422, "Say whether the provider's records show it was sent.")
    try:
        with session_scope() as db:
            if action == "retry":
                delivery = retry_delivery(db, delivery_id, now=now)
                done = "retried"
            elif action == "cancel":
                delivery = cancel_delivery(db, delivery_id, now=now)
                done = "canceled"
            else:
                delivery = resolve_unknown(db, delivery_id, sent=sent == "true", now=now)
                done = "resolved-sent" if sent == "true" else "resolved-not-sent"
            state = delivery.status.value
            record(
                db.connection(),
                actor=actor,
                action=AUDITED[action],
                target=f"delivery:{delivery_id}",
                detail={"done": done, "status": state},
                ip=client_ip(request),
            )
    except NotFoundError as exc:
        return _refused(session, 404, str(exc))
    except InvalidStateError as exc:
        return _refused(session, 409, str(exc))
    log.info("ops.action", action=done, delivery_id=delivery_id, via=session.via)
    if session.via == "bearer":
        return JSONResponse({"id": delivery_id, "status": state, "done": done})
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={done}&id={delivery_id}", status_code=303)


def _refused(session: object, status_code: int, message: str) -> Response:
    return page(
        "message.html.j2",
        status_code=status_code,
        session=session,
        title="Not done",
        message=message,
    )
