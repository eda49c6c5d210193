"""`/account`: who you are, change your password, turn on two-step sign-in (TOTP)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from nurture.api.access import Principal, ip_of, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.render import page
from nurture.config import Settings
from nurture.db import session_scope
from nurture.db.tables import User
from nurture.errors import InvalidValueError, NotFoundError
from nurture.people.accounts import change_password, enable_totp
from nurture.people.credentials import MIN_PASSWORD_CHARS, new_totp_secret, totp_uri
from nurture.people.roles import Role

router = APIRouter(prefix="/account", tags=["account"], include_in_schema=False)

DONE = {"password": "Your password is changed. You were signed out everywhere else."}
ISSUER = "nurture"


def _user(db: Session, caller: Principal) -> User:
    user = db.get(User, caller.actor.id) if caller.actor.id is not None else None
    if user is None:
        raise NotFoundError("this page is for people signed in with their own account")
    return user


def _page(
    caller: Principal, settings: Settings, *, status_code: int = 200, **extra: object
) -> Response:
    if caller.role is None:
        return page(
            "message.html.j2",
            status_code=404,
            session=caller,
            title="Not found",
            message="This page is for people signed in with their own account.",
        )
    context: dict[str, Any] = {
        "error": None,
        "flash": None,
        "secret": None,
        "uri": None,
        "codes": None,
        "totp_on": caller.has_totp,
        "totp_required": settings.owner_totp and caller.role is Role.OWNER and not caller.has_totp,
    }
    context.update(extra)
    return page(
        "account/account.html.j2",
        status_code=status_code,
        session=caller,
        min_chars=MIN_PASSWORD_CHARS,
        section="account",
        **context,
    )


@router.get("")
def account(
    done: str = "",
    settings: Settings = Depends(settings_dep),
    caller: Principal = Depends(need(Role.VIEWER, "see your account")),
) -> Response:
    return _page(caller, settings, flash=DONE.get(done))


@router.post("/password")
def new_password(
    request: Request,
    current: str = Form(""),
    password: str = Form(""),
    again: str = Form(""),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(need(Role.VIEWER, "change your password")),
) -> Response:
    if password != again:
        return _page(
            caller, settings, status_code=422, error="The two new passwords are not the same."
        )
    try:
        with session_scope() as db:
            change_password(
                db,
                _user(db, caller),
                current[:1024],
                password[:1024],
                session_id=caller.session_id,
                now=now,
                ip=ip_of(request),
            )
    except (InvalidValueError, NotFoundError) as exc:
        return _page(caller, settings, status_code=422, error=f"{str(exc).capitalize()}.")
    return RedirectResponse("/account?done=password", status_code=303)


@router.post("/totp/start")
def totp_start(
    settings: Settings = Depends(settings_dep),
    caller: Principal = Depends(need(Role.VIEWER, "turn on two-step sign-in")),
) -> Response:
    secret = new_totp_secret()
    return _page(caller, settings, secret=secret, uri=totp_uri(secret, caller.actor.name, ISSUER))


@router.post("/totp")
def totp_confirm(
    request: Request,
    secret: str = Form(""),
    code: str = Form(""),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(need(Role.VIEWER, "turn on two-step sign-in")),
) -> Response:
    secret = secret.strip().upper()[:64]
    if not re.fullmatch(r"[A-Z2-7]{16,64}", secret):
        return _page(
            caller, settings, status_code=422, error="Start again: the setup key was lost."
        )
    try:
        with session_scope() as db:
            codes = enable_totp(
                db, _user(db, caller), secret, code[:20], now=now, ip=ip_of(request)
            )
    except (InvalidValueError, NotFoundError) as exc:
        uri = totp_uri(secret, caller.actor.name, ISSUER) if secret else None
        return _page(
            caller,
            settings,
            status_code=422,
            error=f"{str(exc).capitalize()}.",
            secret=secret,
            uri=uri,
        )
    return _page(
        caller,
        settings,
        codes=codes,
        totp_on=True,
        totp_required=False,
        flash="Two-step sign-in is on.",
    )
