"""Who may do what, declared once per route: `Depends(need(Role.MANAGER, "publish sequences"))`.

A caller is a signed-in person (server-side session cookie, `people/sessions.py`), a
machine token or the shared NURTURE_API_KEY (`Authorization: Bearer`). The rule a route
declares checks, in this order: who is calling (else 401, or the sign-in page for a
browser), what their role or token scope allows (else 403 naming the role needed), and for a
browser's POST the session's CSRF token (header `X-CSRF-Token`, or a `csrf_token` field
of the form or JSON body).
`tests/people/test_every_route_declares_a_rule.py` fails when a guarded route declares none.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from fastapi import Depends, Request
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from nurture.api.cookie import COOKIE_NAME, key_matches
from nurture.api.deps import client_ip, now_dep, settings_dep
from nurture.config import Settings
from nurture.db import session_scope
from nurture.errors import AccessDenied
from nurture.people.actor import Actor
from nurture.people.roles import Role, Scope, scope_allows
from nurture.people.sessions import Limits, find_session
from nurture.people.tokens import find_token

#: Where a person lands after signing in.
LANDING = "/today"
#: The paths whose every route must declare a rule.
GUARDED = ("/today", "/ops", "/studio", "/users", "/tokens", "/account", "/v1")
_bearer = HTTPBearer(auto_error=False, description="a machine token or NURTURE_API_KEY")


class SignInNeeded(Exception):
    """No valid session or token (`bearer`: a Bearer header was sent and is wrong)."""

    def __init__(self, *, bearer: bool) -> None:
        self.bearer = bearer
        super().__init__("sign in first")


class StaleForm(Exception):
    """A browser's POST without its session's CSRF token."""


class TotpFirst(Exception):
    """An owner must turn on a TOTP code (NURTURE_OWNER_TOTP) before anything else."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (`role`), or a machine (`scope`)."""

    actor: Actor
    via: Literal["bearer", "cookie"]
    name: str
    role: Role | None = None
    scope: Scope | None = None
    #: The session's CSRF token (empty for Bearer: a browser never sends that header itself).
    csrf: str = ""
    session_id: int | None = None
    has_totp: bool = False

    def may(self, role: str | Role) -> bool:
        """Whether the caller's role includes `role` (a machine: only with the admin scope)."""
        if self.role is None:
            return self.scope is Scope.ADMIN
        return self.role.includes(Role(role))


@dataclass(frozen=True)
class Rule:
    """What a route needs: a role (people; machines by scope), or `machines_only`, or nothing."""

    role: Role | None
    what: str
    machines_only: bool = False


Check = Callable[..., Awaitable[Principal | None]]


def _limits(settings: Settings) -> Limits:
    return Limits(
        idle=timedelta(minutes=settings.session_idle_min),
        longest=timedelta(hours=settings.session_max_h),
    )


#: Whoever presents the shared NURTURE_API_KEY.
_API_KEY = Principal(Actor.api_key(), "bearer", "API key", scope=Scope.ADMIN)


def _bearer_token(request: Request) -> str:
    """The token of an `Authorization: Bearer` header ("" without one)."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    return bearer.strip() if scheme.lower() == "bearer" else ""


def identify(request: Request, settings: Settings, now: datetime) -> Principal | None:
    """The caller from its Bearer header or its session cookie; None when it sent neither.
    A wrong Bearer header is SignInNeeded (a script should hear that its token is wrong)."""
    token = _bearer_token(request)
    if token:
        if key_matches(settings, token):
            return _API_KEY
        with session_scope() as db:
            row = find_token(db, token, now=now)
            if row is None:
                raise SignInNeeded(bearer=True)
            actor = Actor(kind="token", id=row.id, name=row.name, role=None)
            return Principal(actor, "bearer", row.name, scope=Scope(row.scope))
    cookie = request.cookies.get(COOKIE_NAME)
    if not cookie:
        return None
    with session_scope() as db:
        view = find_session(db, cookie, now=now, limits=_limits(settings))
    if view is None:
        return None
    return Principal(
        view.actor,
        "cookie",
        view.name,
        role=view.role,
        csrf=view.csrf,
        session_id=view.id,
        has_totp=view.has_totp,
    )


async def _identified(request: Request, settings: Settings, now: datetime) -> Principal | None:
    """`identify`, on the threadpool only when it reads the database (a machine token or a
    session): the shared API key is compared here, saving every such request a thread
    round trip."""
    token = _bearer_token(request)
    if token and key_matches(settings, token):
        return _API_KEY
    return await run_in_threadpool(identify, request, settings, now)


def _allowed(principal: Principal, rule: Rule, request: Request) -> None:
    if rule.role is None:
        return
    if principal.scope is not None:
        if not scope_allows(principal.scope, request.method, request.url.path):
            raise AccessDenied(
                f"This token's scope ({principal.scope.value}) does not allow {rule.what}.",
                role=Scope.ADMIN.value,
                what=rule.what,
            )
        return
    if rule.machines_only:
        raise AccessDenied(
            f"Only scripts with a token may {rule.what}.", role="token", what=rule.what
        )
    if principal.role is None or not principal.role.includes(rule.role):
        raise AccessDenied(
            f"To {rule.what} you need the {rule.role.value} role or higher.",
            role=rule.role.value,
            what=rule.what,
        )


async def _csrf_token(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else ""
    if kind.startswith("application/json"):
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return ""
        found = data.get("csrf_token") if isinstance(data, dict) else None
        return found if isinstance(found, str) else ""
    return ""


def _rule_check(rule: Rule) -> Check:
    async def check(
        request: Request,
        settings: Settings = Depends(settings_dep),
        now: datetime = Depends(now_dep),
        _: object = Depends(_bearer),  # documents the Bearer scheme in the OpenAPI schema
    ) -> Principal | None:
        if rule.role is None:
            try:
                return await _identified(request, settings, now)
            except SignInNeeded:
                return None
        principal = await _identified(request, settings, now)
        if principal is None:
            raise SignInNeeded(bearer=False)
        _allowed(principal, rule, request)
        if principal.via == "cookie":
            if (
                settings.owner_totp
                and principal.role is Role.OWNER
                and not principal.has_totp
                and not request.url.path.startswith(("/account", "/logout"))
            ):
                raise TotpFirst()
            if request.method not in ("GET", "HEAD"):
                submitted = await _csrf_token(request)
                if not hmac.compare_digest(submitted.encode(), principal.csrf.encode()):
                    raise StaleForm()
        return principal

    check.rule = rule  # type: ignore[attr-defined]  # read by the route walk test
    return check


def need(role: Role, what: str) -> Check:
    """The caller must hold `role` (or a higher one), or a token whose scope opens the
    request. `what` finishes "To … you need": "publish sequences"."""
    return _rule_check(Rule(role, what))


def machine(what: str) -> Check:
    """Server-to-server only: the API key or a token whose scope opens the request."""
    return _rule_check(Rule(Role.OWNER, what, machines_only=True))


def anyone(what: str) -> Check:
    """Open to everyone (the sign-in page, a static script): declared, so it is deliberate.
    The caller, if signed in, is passed on."""
    return _rule_check(Rule(None, what))


def rule_of(dependency: object) -> Rule | None:
    found = getattr(dependency, "rule", None)
    return found if isinstance(found, Rule) else None


def ip_of(request: Request) -> str:
    return client_ip(request) or "unknown"
