"""A prospect booked: the one service behind `POST /v1/bookings` and the calendar webhooks.

The prospect is found by email, else phone; their `booked_at` is set (the first booking
counts) and every live enrollment of a sequence that `stop_on: [booked]` stops, its pending
messages skipped. Works in the caller's transaction and takes `now`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nurture.db.tables import Contact
from nurture.errors import NotFoundError
from nurture.schedule import Catalog
from nurture.steering.contacts import match_contact
from nurture.steering.stop import StopResult, mark_booked


def sequences_stopping_on_booked(catalog: Catalog) -> list[str]:
    return [s.id for s in catalog.sequences.values() if "booked" in s.stop_on]


def book_contact(
    session: Session, contact: Contact, *, catalog: Catalog, now: datetime, source: str
) -> StopResult:
    """Mark `contact` booked and stop the sequences that stop on a booking."""
    return mark_booked(
        session,
        contact,
        now=now,
        source=source,
        stop_sequences=sequences_stopping_on_booked(catalog),
    )


def book(
    session: Session,
    *,
    email: str | None,
    phone: str | None,
    catalog: Catalog,
    now: datetime,
    source: str,
) -> tuple[Contact, StopResult]:
    """Find the prospect (email, else phone) and book them; NotFoundError if nobody matches."""
    contact = match_contact(session, email=email, phone=phone)
    if contact is None:
        wanted = " or ".join(f"{k} {v!r}" for k, v in (("email", email), ("phone", phone)) if v)
        raise NotFoundError(f"no contact with {wanted or 'no email or phone given'}")
    return contact, book_contact(session, contact, catalog=catalog, now=now, source=source)
