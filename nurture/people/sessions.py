"""Server-side sessions: the browser holds a random token, the database the session. A
session ends on sign-out, after `NURTURE_SESSION_IDLE_MIN` unused, `NURTURE_SESSION_MAX_H`
after sign-in, when the person is disabled, or when they change their password elsewhere."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nurture.db.tables import StaffSession, User
from nurture.people.actor import Actor
from nurture.people.credentials import digest, new_token
from nurture.people.roles import Role

#: last_seen_at is written at most this often (a page load is not a write each time).
TOUCH_EVERY = timedelta(seconds=30)


@dataclass(frozen=True)
class Limits:
    idle: timedelta
    longest: timedelta


@dataclass(frozen=True)
class SessionView:
    """The signed-in person as a request sees them; the role is read fresh each time."""

    id: int
    user_id: int
    email: str
    name: str
    role: Role
    csrf: str
    has_totp: bool

    @property
    def actor(self) -> Actor:
        return Actor(kind="person", id=self.user_id, name=self.email, role=self.role.value)


def open_session(db: Session, user: User, *, now: datetime, ip: str | None) -> str:
    """A new session for `user`; the token for the cookie (only its digest is stored)."""
    token = new_token()
    db.add(
        StaffSession(
            token_hash=digest(token),
            user_id=user.id,
            csrf=secrets.token_hex(32),
            created_at=now,
            last_seen_at=now,
            ip=ip,
        )
    )
    return token


def find_session(db: Session, token: str, *, now: datetime, limits: Limits) -> SessionView | None:
    """The live session `token` names, touched; None when it ended, timed out, or its
    person was disabled."""
    row = db.execute(
        select(StaffSession, User)
        .join(User, User.id == StaffSession.user_id)
        .where(StaffSession.token_hash == digest(token))
    ).first()
    if row is None:
        return None
    session, user = row
    if session.ended_at is not None or user.disabled_at is not None:
        return None
    if now - session.last_seen_at > limits.idle or now - session.created_at > limits.longest:
        session.ended_at = now
        return None
    if now - session.last_seen_at >= TOUCH_EVERY:
        session.last_seen_at = now
    return SessionView(
        id=session.id,
        user_id=user.id,
        email=user.email,
        name=user.name or user.email,
        role=Role(user.role),
        csrf=session.csrf,
        has_totp=user.totp_secret is not None,
    )


def end_session(db: Session, token: str, *, now: datetime) -> None:
    db.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == digest(token), StaffSession.ended_at.is_(None))
        .values(ended_at=now)
    )
