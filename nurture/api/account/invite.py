"""`GET|POST /invite/{token}`: a new person (or one reset) sets their password, once."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from nurture.api.access import Principal, anyone, ip_of
from nurture.api.deps import now_dep
from nurture.api.ops.render import page
from nurture.db import session_scope
from nurture.errors import InvalidToken, InvalidValueError
from nurture.people.accounts import accept_invitation, invitation_user
from nurture.people.credentials import MIN_PASSWORD_CHARS

router = APIRouter(tags=["account"], include_in_schema=False)


def _form(token: str, email: str, *, error: str | None = None, status_code: int = 200) -> Response:
    return page(
        "account/invite.html.j2",
        status_code=status_code,
        token=token,
        email=email,
        error=error,
        min_chars=MIN_PASSWORD_CHARS,
        section="account",
    )


def _dead(reason: str) -> Response:
    return page(
        "message.html.j2",
        status_code=410,
        title="This invitation link does not work",
        message=f"{reason.capitalize()}. Ask the clinic's owner for a new invitation.",
        back="/login",
    )


def _invited(token: str, now: datetime) -> str | Response:
    """The invited person's email, or the page saying why the link does not work."""
    try:
        with session_scope() as db:
            _invitation, user = invitation_user(db, token[:100], now)
            return user.email
    except InvalidToken as exc:
        return _dead(str(exc))


@router.get("/invite/{token}")
def invitation(
    token: str,
    now: datetime = Depends(now_dep),
    _: Principal | None = Depends(anyone("open an invitation")),
) -> Response:
    email = _invited(token, now)
    if isinstance(email, Response):
        return email
    return _form(token, email)


@router.post("/invite/{token}")
def accept(
    request: Request,
    token: str,
    password: str = Form(""),
    again: str = Form(""),
    now: datetime = Depends(now_dep),
    _: Principal | None = Depends(anyone("accept an invitation")),
) -> Response:
    email = _invited(token, now)
    if isinstance(email, Response):
        return email
    if password != again:
        return _form(token, email, error="The two passwords are not the same.", status_code=422)
    try:
        with session_scope() as db:
            accept_invitation(db, token[:100], password[:1024], now=now, ip=ip_of(request))
    except InvalidValueError as exc:
        return _form(token, email, error=f"{str(exc).capitalize()}.", status_code=422)
    except InvalidToken as exc:
        return _dead(str(exc))
    return RedirectResponse("/login?welcome=1", status_code=303)
