"""Roles of people and scopes of machine tokens: what each may do, in one place."""

from __future__ import annotations

from enum import StrEnum

from nurture.errors import InvalidValueError


class Role(StrEnum):
    """A person's role; each includes every role after it."""

    #: Users, settings, tokens, and everything a manager may do.
    OWNER = "owner"
    #: Edit and publish sequences, test sends, exports, results, retry and cancel deliveries.
    MANAGER = "manager"
    #: Replies (answer, mark booked, stop, resume) and prospects.
    FRONT_DESK = "front-desk"
    #: Read the pages: no export, no action, no message text of prospects.
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        return len(ROLES) - ROLES.index(self)

    def includes(self, other: Role) -> bool:
        """Whether this role may do what `other` may."""
        return self.rank >= other.rank


ROLES: tuple[Role, ...] = (Role.OWNER, Role.MANAGER, Role.FRONT_DESK, Role.VIEWER)


class Scope(StrEnum):
    """What a machine token opens."""

    #: POST /v1/consultation-requests only.
    INTAKE = "intake"
    #: POST /v1/bookings only.
    BOOKINGS = "bookings"
    #: The GETs of /ops*.
    READ = "read"
    #: Everything (as the shared NURTURE_API_KEY).
    ADMIN = "admin"


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        names = ", ".join(r.value for r in ROLES)
        raise InvalidValueError(f"unknown role {text!r}: use one of {names}") from None


def parse_scope(text: str) -> Scope:
    try:
        return Scope(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in Scope)
        raise InvalidValueError(f"unknown scope {text!r}: use one of {names}") from None


def scope_allows(scope: Scope, method: str, path: str) -> bool:
    """Whether a token of `scope` may make this request."""
    if scope is Scope.ADMIN:
        return True
    if scope is Scope.INTAKE:
        return method == "POST" and path == "/v1/consultation-requests"
    if scope is Scope.BOOKINGS:
        return method == "POST" and path == "/v1/bookings"
    return method in ("GET", "HEAD") and (path == "/ops" or path.startswith("/ops/"))
