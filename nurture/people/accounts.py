"""People's accounts: invite, accept an invitation, change role, disable, reset, change a
password, turn a TOTP code on. Each change is written to the audit trail with who made it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nurture.core.addressing import normalize_email
from nurture.db.tables import Invitation, StaffSession, User
from nurture.errors import InvalidStateError, InvalidToken, InvalidValueError, NotFoundError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.people.credentials import (
    digest,
    hash_password,
    new_recovery_codes,
    new_token,
    totp_ok,
    verify_password,
)
from nurture.people.roles import Role

INVITATION_TTL = timedelta(hours=72)


@dataclass(frozen=True)
class Invited:
    """A new invitation: the token goes in the link, shown once."""

    user_id: int
    email: str
    token: str
    expires_at: datetime


def find_user(db: Session, email: str) -> User:
    user = db.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFoundError(f"no person with the email {email.strip()!r}")
    return user


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.email)))


def has_users(db: Session) -> bool:
    return db.scalar(select(User.id).limit(1)) is not None


def _invite(db: Session, user: User, now: datetime) -> Invited:
    db.execute(
        update(Invitation)
        .where(Invitation.user_id == user.id, Invitation.used_at.is_(None))
        .values(used_at=now)
    )
    token = new_token()
    expires_at = now + INVITATION_TTL
    db.add(
        Invitation(user_id=user.id, token_hash=digest(token), created_at=now, expires_at=expires_at)
    )
    return Invited(user.id, user.email, token, expires_at)


def add_user(
    db: Session,
    email: str,
    role: Role,
    *,
    name: str,
    by: Actor,
    now: datetime,
    ip: str | None = None,
) -> Invited:
    """A new person with `role`, and their invitation to set a password."""
    address = normalize_email(email)
    if db.scalar(select(User.id).where(User.email == address)) is not None:
        raise InvalidStateError(
            f"{address} already has an account: use `nurture users reset {address}` "
            "for a new invitation"
        )
    user = User(
        email=address, name=name.strip()[:200], role=role.value, recovery_codes=[], created_at=now
    )
    db.add(user)
    db.flush()
    invited = _invite(db, user, now)
    record(
        db.connection(),
        actor=by,
        action=AuditAction.USER_ADDED,
        target=address,
        detail={"role": role.value},
        ip=ip,
    )
    return invited


def reset_user(
    db: Session, email: str, *, by: Actor, now: datetime, ip: str | None = None
) -> Invited:
    """Remove the password and TOTP, end every session, and invite the person again."""
    user = find_user(db, email)
    user.password_hash = None
    user.totp_secret = None
    user.recovery_codes = []
    end_sessions(db, user.id, now=now)
    invited = _invite(db, user, now)
    record(db.connection(), actor=by, action=AuditAction.USER_RESET, target=user.email, ip=ip)
    return invited


def set_role(
    db: Session, email: str, role: Role, *, by: Actor, now: datetime, ip: str | None = None
) -> User:
    user = find_user(db, email)
    if user.role == Role.OWNER.value and role is not Role.OWNER:
        _keep_an_owner(db, user)
    before = user.role
    user.role = role.value
    record(
        db.connection(),
        actor=by,
        action=AuditAction.USER_ROLE_CHANGED,
        target=user.email,
        detail={"from": before, "to": role.value},
        ip=ip,
    )
    return user


def disable_user(
    db: Session, email: str, *, by: Actor, now: datetime, ip: str | None = None
) -> User:
    """The person can no longer sign in; their open sessions end."""
    user = find_user(db, email)
    if user.role == Role.OWNER.value:
        _keep_an_owner(db, user)
    user.disabled_at = user.disabled_at or now
    end_sessions(db, user.id, now=now)
    record(db.connection(), actor=by, action=AuditAction.USER_DISABLED, target=user.email, ip=ip)
    return user


def _keep_an_owner(db: Session, user: User) -> None:
    others = db.scalar(
        select(User.id)
        .where(User.role == Role.OWNER.value, User.disabled_at.is_(None), User.id != user.id)
        .limit(1)
    )
    if others is None:
        raise InvalidStateError(f"{user.email} is the only owner: make someone else owner first")


def end_sessions(db: Session, user_id: int, *, now: datetime, keep: int | None = None) -> None:
    """End every open session of the person (except `keep`)."""
    query = update(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    db.execute(query.values(ended_at=now))


def invitation_user(db: Session, token: str, now: datetime) -> tuple[Invitation, User]:
    """The open invitation `token` names, and its person; InvalidToken when it is used,
    expired or unknown."""
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None or invitation.used_at is not None:
        raise InvalidToken("this invitation link was already used or replaced by a newer one")
    if invitation.expires_at <= now:
        raise InvalidToken("this invitation link has expired (links last 72 hours)")
    user = db.get(User, invitation.user_id)
    if user is None or user.disabled_at is not None:
        raise InvalidToken("this account is disabled")
    return invitation, user


def accept_invitation(
    db: Session, token: str, password: str, *, now: datetime, ip: str | None = None
) -> User:
    """Set the password the invitation asks for; the link then stops working."""
    invitation, user = invitation_user(db, token, now)
    user.password_hash = hash_password(password)
    invitation.used_at = now
    actor = Actor(kind="person", id=user.id, name=user.email, role=user.role)
    record(
        db.connection(),
        actor=actor,
        action=AuditAction.PASSWORD_CHANGED,
        target=user.email,
        detail={"via": "invitation"},
        ip=ip,
    )
    return user


def change_password(
    db: Session,
    user: User,
    current: str,
    new: str,
    *,
    session_id: int | None,
    now: datetime,
    ip: str | None = None,
) -> None:
    """Change the password (the current one is asked again) and end the person's other sessions."""
    ok, _ = verify_password(user.password_hash, current)
    if not ok:
        raise InvalidValueError("the current password is not right")
    user.password_hash = hash_password(new)
    end_sessions(db, user.id, now=now, keep=session_id)
    actor = Actor(kind="person", id=user.id, name=user.email, role=user.role)
    record(
        db.connection(), actor=actor, action=AuditAction.PASSWORD_CHANGED, target=user.email, ip=ip
    )


def enable_totp(
    db: Session, user: User, secret: str, code: str, *, now: datetime, ip: str | None = None
) -> list[str]:
    """Turn TOTP on once a code from the app matches `secret`; the recovery codes, shown once."""
    if not totp_ok(secret, code, now):
        raise InvalidValueError(
            "that code does not match: check the app's clock and try the next code"
        )
    codes = new_recovery_codes()
    user.totp_secret = secret
    user.recovery_codes = [digest(c) for c in codes]
    actor = Actor(kind="person", id=user.id, name=user.email, role=user.role)
    record(db.connection(), actor=actor, action=AuditAction.TOTP_ENABLED, target=user.email, ip=ip)
    return codes
