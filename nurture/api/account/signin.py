"""`GET|POST /login`, `POST /logout`, and `/ops/login` (the old address) leading to `/login`."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from nurture.api.access import LANDING, Principal, anyone, ip_of, need
from nurture.api.cookie import (
    COOKIE_NAME,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.render import page
from nurture.config import Settings, parse_limit
from nurture.db import session_scope
from nurture.people.accounts import has_users
from nurture.people.roles import Role
from nurture.people.signin import Attempt, Outcome, sign_in, sign_out

router = APIRouter(tags=["account"], include_in_schema=False)
log = structlog.get_logger(__name__)

#: What the sign-in page says while nobody has an account (and `nurture run` prints).
FIRST_RUN = "nurture users add you@clinic.example --role owner"


def _no_users_yet() -> bool:
    with session_scope() as db:
        return not has_users(db)


def login_page(
    next_url: str,
    *,
    error: str | None = None,
    status_code: int = 200,
    email: str = "",
    code_needed: bool = False,
    flash: str | None = None,
) -> Response:
    """The sign-in form; while nobody has an account, how to create the owner instead."""
    return page(
        "account/login.html.j2",
        status_code=status_code,
        next=next_url,
        error=error,
        first_run=FIRST_RUN if _no_users_yet() else None,
        email=email,
        code_needed=code_needed,
        flash=flash,
        section="account",
    )


@router.get("/login")
def login_form(
    next: str = LANDING,
    signed_out: str = "",
    welcome: str = "",
    caller: Principal | None = Depends(anyone("see the sign-in page")),
) -> Response:
    if caller is not None and caller.via == "cookie":
        return RedirectResponse(safe_next(next, LANDING), status_code=303)
    flash = "You are signed out." if signed_out else None
    if welcome:
        flash = "Your password is set. Sign in with your email and the new password."
    return login_page(safe_next(next, LANDING), flash=flash)


@router.post("/login")
async def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    code: str = Form(""),
    next: str = Form(LANDING),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    _: Principal | None = Depends(anyone("sign in")),
) -> Response:
    target = safe_next(next, LANDING)
    attempt = Attempt(
        email=email[:320], password=password[:1024], code=code[:40], ip=ip_of(request)
    )

    def attempt_it() -> Outcome:
        with session_scope() as db:
            return sign_in(db, attempt, now=now, limit=parse_limit(settings.login_rate))

    outcome = await run_in_threadpool(attempt_it)
    if outcome.wait_s:
        minutes = max(1, -(-outcome.wait_s // 60))
        log.warning("people.sign_in", outcome="throttled")
        response = login_page(
            target,
            error=(
                "Too many failed sign-ins for this account or from this network. "
                f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
            ),
            status_code=429,
            email=email,
        )
        response.headers["Retry-After"] = str(outcome.wait_s)
        return response
    if outcome.token is None:
        log.info("people.sign_in", outcome="refused")
        return login_page(
            target,
            error=outcome.refused,
            status_code=401,
            email=email,
            code_needed=outcome.code_needed,
        )
    log.info("people.sign_in", outcome="ok")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, settings, outcome.token)
    return response


@router.post("/logout")
def logout(
    request: Request,
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(need(Role.VIEWER, "sign out")),
) -> Response:
    token = request.cookies.get(COOKIE_NAME, "")
    with session_scope() as db:
        sign_out(db, caller.actor, token, now=now, ip=ip_of(request))
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session_cookie(response)
    return response


@router.get("/ops/login")
def old_login(
    next: str = LANDING, _: Principal | None = Depends(anyone("find the sign-in page"))
) -> Response:
    """The sign-in page's old address."""
    return RedirectResponse(f"/login?next={quote(safe_next(next, LANDING), safe='/')}", 303)
