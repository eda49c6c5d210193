"""`/tokens` (owners): machine tokens for scripts; create (shown once) and revoke."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from nurture.api.access import Principal, ip_of, need
from nurture.api.deps import now_dep
from nurture.api.ops.render import page
from nurture.db import session_scope
from nurture.errors import InvalidStateError, InvalidValueError, NotFoundError
from nurture.people.roles import Role, Scope, parse_scope
from nurture.people.tokens import create_token, list_tokens, revoke_token

router = APIRouter(prefix="/tokens", tags=["account"], include_in_schema=False)
OWNER = need(Role.OWNER, "manage machine tokens")
#: What each scope opens, as the page explains it.
SCOPES = {
    Scope.INTAKE: "send consultation requests (POST /v1/consultation-requests)",
    Scope.BOOKINGS: "report bookings (POST /v1/bookings)",
    Scope.READ: "read the ops pages and figures (GET /ops…)",
    Scope.ADMIN: "everything, like NURTURE_API_KEY",
}


def _page(caller: Principal, *, status_code: int = 200, **extra: object) -> Response:
    with session_scope() as db:
        tokens = list_tokens(db)
        db.expunge_all()
    context: dict[str, Any] = {"error": None, "flash": None, "created": None, "token": None}
    context.update(extra)
    return page(
        "account/tokens.html.j2",
        status_code=status_code,
        session=caller,
        tokens=tokens,
        scopes=SCOPES,
        section="tokens",
        **context,
    )


def _sentence(exc: Exception) -> str:
    text = str(exc)
    return f"{text[:1].upper()}{text[1:]}."


@router.get("")
def tokens_page(revoked: str = "", caller: Principal = Depends(OWNER)) -> Response:
    flash = f"Token {revoked[:100]!r} is revoked: it no longer works." if revoked else None
    return _page(caller, flash=flash)


@router.post("")
def create(
    request: Request,
    name: str = Form(""),
    scope: str = Form(""),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    try:
        with session_scope() as db:
            token = create_token(
                db,
                name.strip()[:100],
                parse_scope(scope),
                by=caller.actor,
                now=now,
                ip=ip_of(request),
            )
    except (InvalidValueError, InvalidStateError) as exc:
        return _page(caller, status_code=422, error=_sentence(exc))
    return _page(caller, created=name.strip(), token=token)


@router.post("/{name}/revoke")
def revoke(
    request: Request,
    name: str,
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    try:
        with session_scope() as db:
            revoke_token(db, name[:100], by=caller.actor, now=now, ip=ip_of(request))
    except NotFoundError as exc:
        return _page(caller, status_code=404, error=_sentence(exc))
    return RedirectResponse(f"/tokens?revoked={name[:100]}", status_code=303)
