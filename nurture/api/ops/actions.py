"""The ops buttons: retry, cancel, resolve (managers). POST only, through `steering`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from nurture.api.access import Principal, need
from nurture.api.cookie import safe_next
from nurture.api.deps import client_ip, now_dep
from nurture.api.ops.render import refused
from nurture.api.params import RowId
from nurture.db import session_scope
from nurture.errors import InvalidStateError, NotFoundError
from nurture.people.audit import AuditAction, record
from nurture.people.roles import Role
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
    sent: Literal["", "true", "false"] = Form(""),
    next: str = Form("/ops"),
    now: datetime = Depends(now_dep),
    session: Principal = Depends(need(Role.MANAGER, "retry, cancel or resolve a delivery")),
) -> Response:
    """Apply one action to one delivery; back to `next` with a note, or a page saying why not."""
    back = safe_next(next, "/ops")
    if action == "resolve" and not sent:
        return refused(session, 422, "Say whether the provider's records show it was sent.")
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
                actor=session.actor,
                action=AUDITED[action],
                target=f"delivery:{delivery_id}",
                detail={"done": done, "status": state},
                ip=client_ip(request),
            )
    except NotFoundError as exc:
        return refused(session, 404, str(exc))
    except InvalidStateError as exc:
        return refused(session, 409, str(exc))
    log.info("ops.action", action=done, delivery_id=delivery_id, via=session.via)
    if session.via == "bearer":
        return JSONResponse({"id": delivery_id, "status": state, "done": done})
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}done={done}&id={delivery_id}", status_code=303)
