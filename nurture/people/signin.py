"""Signing in: throttle, password (Argon2id, rehashed when its parameters changed), TOTP or a
recovery code, a new session. Every attempt, good or bad, leaves an audit row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.db.tables import User
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.people.credentials import totp_ok, use_recovery_code, verify_password
from nurture.people.sessions import end_session, open_session
from nurture.people.throttle import note_failure, wait_s

WRONG = "That email and password do not match an account that may sign in."


@dataclass(frozen=True)
class Attempt:
    email: str
    password: str
    #: The 6-digit code, or a recovery code; empty when none was typed.
    code: str
    ip: str


@dataclass(frozen=True)
class Outcome:
    """A session token, or why not: `refused` (say it), or `wait_s` seconds to wait."""

    token: str | None = None
    refused: str | None = None
    wait_s: int = 0
    #: The password was right and the account asks for its code.
    code_needed: bool = False


def sign_in(db: Session, attempt: Attempt, *, now: datetime, limit: tuple[int, int]) -> Outcome:
    """Try `attempt`; the caller commits whatever the outcome (failures must be counted)."""
    email = attempt.email.strip().lower()[:320]
    wait = wait_s(db, email, attempt.ip, now=now, limit=limit)
    if wait:
        return Outcome(wait_s=wait)
    user = db.scalar(select(User).where(User.email == email))
    ok, rehashed = verify_password(user.password_hash if user else None, attempt.password)
    if user is None or not ok or user.disabled_at is not None:
        return _failed(db, attempt, email, user, now=now, window_s=limit[1], why="password")
    if user.totp_secret is not None:
        if not attempt.code.strip():
            return Outcome(code_needed=True, refused="Enter the 6-digit code from your app.")
        if not totp_ok(user.totp_secret, attempt.code, now):
            left = use_recovery_code(list(user.recovery_codes), attempt.code)
            if left is None:
                return _failed(db, attempt, email, user, now=now, window_s=limit[1], why="code")
            user.recovery_codes = left
    if rehashed:
        user.password_hash = rehashed
    token = open_session(db, user, now=now, ip=attempt.ip)
    actor = Actor(kind="person", id=user.id, name=user.email, role=user.role)
    record(db.connection(), actor=actor, action=AuditAction.SIGN_IN, ip=attempt.ip, at=now)
    return Outcome(token=token)


def _failed(
    db: Session,
    attempt: Attempt,
    email: str,
    user: User | None,
    *,
    now: datetime,
    window_s: int,
    why: str,
) -> Outcome:
    note_failure(db, email, attempt.ip, now=now, window_s=window_s)
    actor = Actor(kind="person", id=None, name=email, role=None)
    detail: dict[str, str | int | bool | None] = {"reason": why}
    if user is not None and user.disabled_at is not None:
        detail["reason"] = "disabled"
    record(
        db.connection(),
        actor=actor,
        action=AuditAction.SIGN_IN_FAILED,
        detail=detail,
        ip=attempt.ip,
        at=now,
    )
    if why == "code":
        return Outcome(code_needed=True, refused="That code is not right. Try the next one.")
    return Outcome(refused=WRONG)


def sign_out(db: Session, actor: Actor, token: str, *, now: datetime, ip: str | None) -> None:
    """End the session `token` on the server: its cookie is refused from now on."""
    end_session(db, token, now=now)
    record(db.connection(), actor=actor, action=AuditAction.SIGN_OUT, ip=ip, at=now)
