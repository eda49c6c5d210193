"""Bookings reported by the clinic's calendar tool (Calendly, Cal.com), applied once.

Each report is stored first as a `booking_events` row, unique per (provider, booking id,
kind), so a provider's retry changes nothing. A booking (or a reschedule) marks the
prospect booked through the same service as `POST /v1/bookings`, stopping every sequence
that `stop_on: [booked]`. A cancellation is recorded and shown in the prospect's history; it
restarts nothing. A report about nobody we know is recorded unmatched and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from nurture.db.tables import BookingEvent as BookingEventRow
from nurture.db.upsert import insert_or_ignore
from nurture.schedule import Catalog
from nurture.steering.bookings import book_contact
from nurture.steering.contacts import match_contact
from nurture.track.events import BookingEvent, BookingKind

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BookingOutcome:
    """What one report did."""

    #: False for a retry of a report already applied (nothing changed).
    applied: bool
    contact_id: int | None = None
    enrollments_stopped: int = 0
    deliveries_skipped: int = 0

    def as_json(self) -> dict[str, object]:
        return {
            "applied": self.applied,
            "matched": self.contact_id is not None,
            "enrollments_stopped": self.enrollments_stopped,
            "deliveries_skipped": self.deliveries_skipped,
        }


def apply_booking_event(
    session: Session, event: BookingEvent, *, catalog: Catalog, now: datetime
) -> BookingOutcome:
    """Record the report once and act on it (see the module's docstring)."""
    contact = match_contact(session, email=event.email, phone=event.phone)
    inserted = insert_or_ignore(
        session,
        BookingEventRow,
        {
            "provider": event.provider,
            "external_id": event.booking_id,
            "kind": event.kind.value,
            "contact_id": contact.id if contact else None,
            "email": event.email[:320] if event.email else None,
            "phone": event.phone[:40] if event.phone else None,
            "starts_at": event.starts_at,
            "received_at": now,
        },
        conflict=["provider", "external_id", "kind"],
        returning=[BookingEventRow.id],
    )
    if inserted.first() is None:
        log.info("booking.duplicate", provider=event.provider, kind=event.kind.value)
        return BookingOutcome(applied=False, contact_id=contact.id if contact else None)
    if contact is None:
        log.info("booking.unmatched", provider=event.provider, kind=event.kind.value)
        return BookingOutcome(applied=True)
    if event.kind is BookingKind.CANCELED:
        log.info("booking.canceled", provider=event.provider, contact_id=contact.id)
        return BookingOutcome(applied=True, contact_id=contact.id)
    result = book_contact(session, contact, catalog=catalog, now=now, source=event.provider)
    log.info(
        "booking.applied",
        provider=event.provider,
        kind=event.kind.value,
        contact_id=contact.id,
        enrollments_stopped=result.enrollments_stopped,
    )
    return BookingOutcome(
        applied=True,
        contact_id=contact.id,
        enrollments_stopped=result.enrollments_stopped,
        deliveries_skipped=result.deliveries_skipped,
    )
