"""`/users` (owners): everyone with an account; invite, change a role, disable, reset."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from nurture.api.access import Principal, ip_of, need
from nurture.api.deps import now_dep, settings_dep
from nurture.api.ops.render import page
from nurture.api.params import RowId
from nurture.config import Settings
from nurture.db import session_scope
from nurture.db.tables import User
from nurture.errors import InvalidStateError, InvalidValueError, NotFoundError
from nurture.people.accounts import (
    Invited,
    add_user,
    disable_user,
    list_users,
    reset_user,
    set_role,
)
from nurture.people.roles import ROLES, Role, parse_role

router = APIRouter(prefix="/users", tags=["account"], include_in_schema=False)
OWNER = need(Role.OWNER, "manage people's accounts")
DONE = {
    "role": "The role is changed; it applies from their next click.",
    "disabled": "The account is disabled and its sessions have ended.",
}


def invitation_url(settings: Settings, invited: Invited) -> str:
    return f"{settings.public_url.rstrip('/')}/invite/{invited.token}"


def _page(caller: Principal, *, status_code: int = 200, **extra: object) -> Response:
    with session_scope() as db:
        users = list_users(db)
        db.expunge_all()
    context: dict[str, Any] = {"error": None, "flash": None, "invited": None, "link": None}
    context.update(extra)
    return page(
        "account/users.html.j2",
        status_code=status_code,
        session=caller,
        users=users,
        roles=ROLES,
        section="users",
        **context,
    )


@router.get("")
def users_page(done: str = "", caller: Principal = Depends(OWNER)) -> Response:
    return _page(caller, flash=DONE.get(done))


@router.post("")
def invite(
    request: Request,
    email: str = Form(""),
    role: str = Form(""),
    name: str = Form(""),
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    try:
        with session_scope() as db:
            invited = add_user(
                db,
                email[:320],
                parse_role(role),
                name=name[:200],
                by=caller.actor,
                now=now,
                ip=ip_of(request),
            )
    except (InvalidValueError, InvalidStateError) as exc:
        return _page(caller, status_code=422, error=f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    return _page(caller, invited=invited.email, link=invitation_url(settings, invited))


def _act(
    request: Request, caller: Principal, user_id: int, act: Callable[[Session, str], object]
) -> Response | None:
    try:
        with session_scope() as db:
            user = db.get(User, user_id)
            if user is None:
                raise NotFoundError(f"no account {user_id}")
            act(db, user.email)
    except (InvalidValueError, InvalidStateError, NotFoundError) as exc:
        return _page(caller, status_code=409, error=f"{str(exc)[0].upper()}{str(exc)[1:]}.")
    return None


@router.post("/{user_id}/role")
def change_role(
    request: Request,
    user_id: RowId,
    role: str = Form(""),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    def act(db: Session, email: str) -> object:
        return set_role(db, email, parse_role(role), by=caller.actor, now=now, ip=ip_of(request))

    return _act(request, caller, user_id, act) or RedirectResponse("/users?done=role", 303)


@router.post("/{user_id}/disable")
def disable(
    request: Request,
    user_id: RowId,
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    def act(db: Session, email: str) -> object:
        return disable_user(db, email, by=caller.actor, now=now, ip=ip_of(request))

    return _act(request, caller, user_id, act) or RedirectResponse("/users?done=disabled", 303)


@router.post("/{user_id}/reset")
def reset(
    request: Request,
    user_id: RowId,
    settings: Settings = Depends(settings_dep),
    now: datetime = Depends(now_dep),
    caller: Principal = Depends(OWNER),
) -> Response:
    invited: list[Invited] = []

    def act(db: Session, email: str) -> object:
        invited.append(reset_user(db, email, by=caller.actor, now=now, ip=ip_of(request)))
        return None

    refused = _act(request, caller, user_id, act)
    if refused is not None:
        return refused
    return _page(caller, invited=invited[0].email, link=invitation_url(settings, invited[0]))
