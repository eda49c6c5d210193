"""What waits for the front desk (`/today`, and the counts in the staff navigation): new
requests since the last visit, replies waiting, bookings, requests that got nothing (with
why and the phone to call), and erased addresses that asked again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from nurture.db.tables import ConsultationRequest, Contact, InboundMessage
from nurture.ops.prospects import state_of, unreachable
from nurture.steering.erase import requests_from_erased

LIMIT = 50


@dataclass(frozen=True)
class Waiting:
    """What waits for a person, counted for the staff navigation and the notify banner."""

    replies: int
    nothing_sent: int

    @property
    def any(self) -> bool:
        return bool(self.replies or self.nothing_sent)


@dataclass(frozen=True)
class NewRequest:
    request: ConsultationRequest
    contact: Contact
    state: str


@dataclass(frozen=True)
class Unreached:
    """A prospect nothing can be sent to, and why, in words."""

    contact: Contact
    why: str


@dataclass(frozen=True)
class Today:
    since: datetime
    new: list[NewRequest]
    replies: list[tuple[InboundMessage, Contact | None]]
    booked: list[Contact]
    unreached: list[Unreached]
    #: (when they last asked, how many times) for erased addresses that asked again.
    erased_again: list[tuple[datetime, int]]


def _live() -> list[ColumnElement[bool]]:
    return [Contact.erased_at.is_(None), Contact.booked_at.is_(None)]


def waiting_counts(session: Session) -> Waiting:
    """Replies nobody has handled, and prospects who got nothing (not booked)."""
    replies = session.scalar(
        select(func.count())
        .select_from(InboundMessage)
        .where(InboundMessage.kind == "reply", InboundMessage.handled_at.is_(None))
    )
    nothing = session.scalar(
        select(func.count()).select_from(Contact).where(unreachable(), *_live())
    )
    return Waiting(int(replies or 0), int(nothing or 0))


def why_unreached(contact: Contact) -> str:
    """Why nothing can be sent, channel by channel, in words."""
    parts = []
    if not contact.email:
        parts.append("gave no email")
    elif not contact.consent_email:
        parts.append("did not agree to emails")
    if not contact.phone:
        parts.append("gave no phone")
    elif not contact.consent_sms:
        parts.append("did not agree to texts")
    return ", ".join(parts).capitalize()


def today(session: Session, *, since: datetime, now: datetime) -> Today:
    """Everything `/today` shows, each list newest first."""
    state = state_of(now).label("state")
    new = [
        NewRequest(r, c, s)
        for r, c, s in session.execute(
            select(ConsultationRequest, Contact, state)
            .join(Contact, Contact.id == ConsultationRequest.contact_id)
            .where(ConsultationRequest.received_at >= since, Contact.erased_at.is_(None))
            .order_by(ConsultationRequest.received_at.desc(), ConsultationRequest.id.desc())
            .limit(LIMIT)
        )
    ]
    replies: list[tuple[InboundMessage, Contact | None]] = [
        (m, c)
        for m, c in session.execute(
            select(InboundMessage, Contact)
            .outerjoin(Contact, Contact.id == InboundMessage.contact_id)
            .where(InboundMessage.kind == "reply", InboundMessage.handled_at.is_(None))
            .order_by(InboundMessage.received_at.desc())
            .limit(LIMIT)
        )
    ]
    booked = list(
        session.scalars(
            select(Contact)
            .where(Contact.booked_at >= since, Contact.erased_at.is_(None))
            .order_by(Contact.booked_at.desc())
            .limit(LIMIT)
        )
    )
    unreached = [
        Unreached(c, why_unreached(c))
        for c in session.scalars(
            select(Contact)
            .where(unreachable(), *_live())
            .order_by(Contact.created_at.desc())
            .limit(LIMIT)
        )
    ]
    erased = [
        (e.requested_at, e.requests)
        for e in requests_from_erased(session, since=since)
        if e.requested_at is not None
    ]
    return Today(since, new, replies, booked, unreached, erased)
