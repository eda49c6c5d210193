"""Failed sign-ins, counted per account and per client IP over `NURTURE_LOGIN_RATE`'s
window (default 5 per 15 minutes); over either, sign-ins wait."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nurture.db.tables import LoginFailure


def wait_s(db: Session, email: str, ip: str, *, now: datetime, limit: tuple[int, int]) -> int:
    """Seconds until this account and IP may try again; 0 when they may now."""
    count, window_s = limit
    since = now - timedelta(seconds=window_s)
    waits = [0]
    for column, value in ((LoginFailure.email, email), (LoginFailure.ip, ip)):
        failures, oldest = db.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                column == value, LoginFailure.at > since
            )
        ).one()
        if failures >= count and oldest is not None:
            waits.append(math.ceil((oldest - since).total_seconds()))
    return max(waits)


def note_failure(db: Session, email: str, ip: str, *, now: datetime, window_s: int) -> None:
    """Count one failure (and forget this account's failures older than the window)."""
    db.execute(
        delete(LoginFailure).where(
            LoginFailure.email == email, LoginFailure.at <= now - timedelta(seconds=window_s)
        )
    )
    db.add(LoginFailure(email=email, ip=ip, at=now))
