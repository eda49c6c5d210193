"""When a prospect writes back: their sequence waits for the clinic, who reads and resumes.

Pausing keeps every pending delivery as it is (the dispatcher only claims active runs);
resuming shifts them by the length of the pause, so the steps keep their spacing instead of
all falling due at once. Each function works in the caller's transaction and takes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.states import PENDING_STATES, EnrollmentStatus
from nurture.db.tables import Contact, Delivery, Enrollment, InboundMessage
from nurture.schedule.catalog import Catalog
from nurture.steering.stop import stop_contact


@dataclass(frozen=True)
class Paused:
    paused: int
    stopped: int


def pause_for_reply(
    session: Session, contact: Contact, *, catalog: Catalog, now: datetime
) -> Paused:
    """Pause the contact's active runs; stop those whose sequence `stop_on: [replied]`."""
    active = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.contact_id == contact.id, Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
    )
    stopping = [
        e.sequence_id
        for e in active
        if (seq := catalog.sequences.get(e.sequence_id)) and "replied" in seq.stop_on
    ]
    for enrollment in active:
        if enrollment.sequence_id not in stopping:
            enrollment.status = EnrollmentStatus.PAUSED
            enrollment.paused_at = now
    session.flush()
    stopped = 0
    if stopping:
        stopped = stop_contact(
            session, contact, reason="replied", now=now, sequence_ids=stopping
        ).enrollments_stopped
    return Paused(paused=len(active) - len(stopping), stopped=stopped)


def resume_contact(session: Session, contact: Contact, *, now: datetime) -> int:
    """Resume the contact's paused runs, shifting their pending messages by the pause."""
    paused = list(
        session.scalars(
            select(Enrollment).where(
                Enrollment.contact_id == contact.id, Enrollment.status == EnrollmentStatus.PAUSED
            )
        )
    )
    for enrollment in paused:
        shift = now - (enrollment.paused_at or now)
        # Row by row: SQLite keeps datetimes as text, so no date arithmetic in SQL.
        waiting = session.scalars(
            select(Delivery).where(
                Delivery.enrollment_id == enrollment.id, Delivery.status.in_(PENDING_STATES)
            )
        )
        for delivery in waiting:
            delivery.due_at += shift
            delivery.updated_at = now
        enrollment.status = EnrollmentStatus.ACTIVE
        enrollment.paused_at = None
    return len(paused)


def list_replies(session: Session, *, include_handled: bool = False) -> list[InboundMessage]:
    """Texts from prospects that a person should read, oldest first."""
    query = select(InboundMessage).where(InboundMessage.kind == "reply")
    if not include_handled:
        query = query.where(InboundMessage.handled_at.is_(None))
    return list(session.scalars(query.order_by(InboundMessage.received_at, InboundMessage.id)))


def mark_handled(session: Session, reply_id: int, *, now: datetime) -> InboundMessage:
    """The clinic dealt with a reply; it leaves the list (and stays on record)."""
    from nurture.errors import NotFoundError

    reply = session.get(InboundMessage, reply_id)
    if reply is None or reply.kind != "reply":
        raise NotFoundError(f"no reply {reply_id}")
    reply.handled_at = reply.handled_at or now
    return reply
