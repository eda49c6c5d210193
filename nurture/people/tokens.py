"""Machine tokens: a name, one scope, shown once at creation and stored as a digest."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.db.tables import MachineToken
from nurture.errors import InvalidStateError, InvalidValueError, NotFoundError
from nurture.people.actor import Actor
from nurture.people.audit import AuditAction, record
from nurture.people.credentials import digest, new_token
from nurture.people.roles import Scope

#: Tokens start with this, so a leaked one is recognisable (and grep-able) as ours.
PREFIX = "nt_"
#: last_used_at is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def create_token(
    db: Session, name: str, scope: Scope, *, by: Actor, now: datetime, ip: str | None = None
) -> str:
    """A new token named `name`; the token itself is returned once and never stored."""
    if not _NAME.match(name):
        raise InvalidValueError(
            f"invalid token name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    if db.scalar(select(MachineToken.id).where(MachineToken.name == name)) is not None:
        # Names stay taken after a revoke, so the list and the audit trail keep meaning one token.
        raise InvalidStateError(f"a token named {name!r} exists or existed: pick another name")
    token = PREFIX + new_token()
    db.add(MachineToken(name=name, scope=scope.value, token_hash=digest(token), created_at=now))
    record(
        db.connection(),
        actor=by,
        action=AuditAction.TOKEN_CREATED,
        target=name,
        detail={"scope": scope.value},
        ip=ip,
    )
    return token


def list_tokens(db: Session) -> list[MachineToken]:
    return list(db.scalars(select(MachineToken).order_by(MachineToken.name)))


def revoke_token(
    db: Session, name: str, *, by: Actor, now: datetime, ip: str | None = None
) -> MachineToken:
    row = db.scalar(
        select(MachineToken).where(MachineToken.name == name, MachineToken.revoked_at.is_(None))
    )
    if row is None:
        raise NotFoundError(f"no live token named {name!r} (see `nurture tokens list`)")
    row.revoked_at = now
    record(db.connection(), actor=by, action=AuditAction.TOKEN_REVOKED, target=name, ip=ip)
    return row


def find_token(db: Session, token: str, *, now: datetime) -> MachineToken | None:
    """The live token `token` is, its last use noted; None when unknown or revoked."""
    if not token.startswith(PREFIX):
        return None
    row = db.scalar(select(MachineToken).where(MachineToken.token_hash == digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now
    return row
