"""Finding deliveries and prospects, and one prospect's whole history in time order."""

from __future__ import annotations

import contextlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from nurture.core.addressing import normalize_phone
from nurture.core.states import PENDING_STATES, Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.tables import (
    BookingEvent,
    ConsentEvent,
    ConsultationRequest,
    Contact,
    Delivery,
    DeliveryEvent,
    Enrollment,
)
from nurture.errors import NotFoundError


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery with who it is for and which sequence it belongs to, for listings."""

    delivery: Delivery
    first_name: str
    sequence_id: str
    #: The prospect's zone (the enrollment's), for their local time.
    timezone: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: str
    source: str
    detail: str | None = None


@dataclass(frozen=True)
class DeliveryHistory:
    delivery: Delivery
    #: State changes and provider reports, oldest first.
    events: list[DeliveryEvent]

    @property
    def timeline(self) -> list[TimelineEntry]:
        """The events, plus the last claim (the dispatcher records it on the row only)."""
        entries = [TimelineEntry(e.at, e.status, e.source, e.detail) for e in self.events]
        queued_at = self.delivery.queued_at
        if queued_at is not None and not any(e.status == "queued" for e in entries):
            # First among equals: a claim and its send can share one instant.
            entries.insert(0, TimelineEntry(queued_at, "queued", "dispatcher", "last claim"))
        entries.sort(key=lambda e: e.at)  # stable
        return entries


@dataclass(frozen=True)
class ContactHistory:
    """What happened to one prospect: requests, enrollments, consent, every message."""

    contact: Contact
    requests: list[ConsultationRequest]
    enrollments: list[Enrollment]
    consent: list[ConsentEvent]
    deliveries: list[DeliveryHistory]
    #: Bookings and cancellations reported by the calendar tools.
    bookings: list[BookingEvent] = field(default_factory=list)


def find_deliveries(
    session: Session,
    *,
    states: tuple[DeliveryStatus, ...] | None = None,
    step: str | None = None,
    channel: Channel | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    enrollment_states: tuple[EnrollmentStatus, ...] | None = None,
    limit: int = 50,
) -> list[DeliveryRow]:
    """Deliveries matching every filter given (due time within [since, until]), latest due first."""
    query = (
        select(Delivery, Contact.first_name, Enrollment.sequence_id, Enrollment.timezone)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .join(Contact, Contact.id == Delivery.contact_id)
        .order_by(Delivery.due_at.desc(), Delivery.id.desc())
        .limit(limit)
    )
    if states:
        query = query.where(Delivery.status.in_(states))
    if step:
        query = query.where(Delivery.step_id == step)
    if channel:
        query = query.where(Delivery.channel == channel)
    if since:
        query = query.where(Delivery.due_at >= since)
    if until:
        query = query.where(Delivery.due_at <= until)
    if enrollment_states:
        query = query.where(Enrollment.status.in_(enrollment_states))
    return [DeliveryRow(d, name, seq, tz) for d, name, seq, tz in session.execute(query)]


def needing_attention(session: Session, *, limit: int = 50) -> dict[str, list[DeliveryRow]]:
    """The deliveries ops act on: failed, unknown (did it go out?), and held by a pause."""
    return {
        "failed": find_deliveries(session, states=(DeliveryStatus.FAILED,), limit=limit),
        "unknown": find_deliveries(session, states=(DeliveryStatus.UNKNOWN,), limit=limit),
        "paused": find_deliveries(
            session,
            states=PENDING_STATES,
            enrollment_states=(EnrollmentStatus.PAUSED,),
            limit=limit,
        ),
    }


def search_contacts(session: Session, text: str, *, limit: int = 50) -> list[Contact]:
    """Contacts whose email contains `text`, or whose phone matches its digits."""
    text = text.strip()
    if not text:
        return []
    conditions = []
    if "@" in text or not re.search(r"\d", text):
        conditions.append(func.lower(Contact.email).contains(text.lower(), autoescape=True))
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        conditions.append(Contact.phone.contains(digits, autoescape=True))
        with contextlib.suppress(ValueError):
            conditions.append(Contact.phone == normalize_phone(text))
    query = select(Contact).where(or_(*conditions)).order_by(Contact.id.desc()).limit(limit)
    return list(session.scalars(query))


def contact_history(session: Session, contact_id: int) -> ContactHistory:
    """Everything about one contact, each part in time order."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError(f"no contact {contact_id}")
    requests = session.scalars(
        select(ConsultationRequest)
        .where(ConsultationRequest.contact_id == contact_id)
        .order_by(ConsultationRequest.received_at, ConsultationRequest.id)
    ).all()
    enrollments = session.scalars(
        select(Enrollment)
        .where(Enrollment.contact_id == contact_id)
        .order_by(Enrollment.started_at, Enrollment.id)
    ).all()
    consent = session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.contact_id == contact_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    ).all()
    deliveries = session.scalars(
        select(Delivery)
        .where(Delivery.contact_id == contact_id)
        .order_by(Delivery.due_at, Delivery.step_index, Delivery.channel)
    ).all()
    events: dict[int, list[DeliveryEvent]] = defaultdict(list)
    if deliveries:
        for event in session.scalars(
            select(DeliveryEvent)
            .where(DeliveryEvent.delivery_id.in_([d.id for d in deliveries]))
            .order_by(DeliveryEvent.at, DeliveryEvent.id)
        ):
            events[event.delivery_id].append(event)
    bookings = session.scalars(
        select(BookingEvent)
        .where(BookingEvent.contact_id == contact_id)
        .order_by(BookingEvent.received_at, BookingEvent.id)
    ).all()
    return ContactHistory(
        contact=contact,
        requests=list(requests),
        enrollments=list(enrollments),
        consent=list(consent),
        deliveries=[DeliveryHistory(d, events[d.id]) for d in deliveries],
        bookings=list(bookings),
    )
