"""Stopping: a prospect's sequences stop (by ops, a booking, an opt-out from every channel),
and every message not yet sending is skipped with the reason. Each function works in the
caller's transaction and takes `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from nurture.core.states import (
    LIVE_ENROLLMENTS,
    PENDING_STATES,
    Channel,
    DeliveryStatus,
    EnrollmentStatus,
)
from nurture.db.tables import Contact, Delivery, Enrollment
from nurture.db.transitions import move_many, transition

_D: Table = Delivery.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class StopResult:
    contact_id: int
    enrollments_stopped: int
    deliveries_skipped: int


def skip_pending(
    session: Session,
    *,
    now: datetime,
    reason: str,
    contact_id: int | None = None,
    enrollment_ids: list[int] | None = None,
    channel: Channel | None = None,
) -> int:
    """Skip every delivery that has not started sending; returns how many."""
    where = []
    if contact_id is not None:
        where.append(_D.c.contact_id == contact_id)
    if enrollment_ids is not None:
        where.append(_D.c.enrollment_id.in_(enrollment_ids))
    if channel is not None:
        where.append(_D.c.channel == channel)
    statement = transition(
        DeliveryStatus.SKIPPED,
        PENDING_STATES,
        where=where,
        values={"error_code": reason, "updated_at": now},
    )
    moved = move_many(
        session, statement, None, to=DeliveryStatus.SKIPPED, at=now, source="control", detail=reason
    )
    return len(moved)


def stop_contact(
    session: Session,
    contact: Contact,
    *,
    reason: str,
    now: datetime,
    sequence_ids: list[str] | None = None,
) -> StopResult:
    """Stop the contact's live enrollments (all, or those of `sequence_ids`)."""
    query = select(Enrollment).where(
        Enrollment.contact_id == contact.id, Enrollment.status.in_(LIVE_ENROLLMENTS)
    )
    if sequence_ids is not None:
        query = query.where(Enrollment.sequence_id.in_(sequence_ids))
    enrollments = list(session.scalars(query))
    for enrollment in enrollments:
        enrollment.status = EnrollmentStatus.STOPPED
        enrollment.stop_reason = reason
        enrollment.ended_at = now
    session.flush()
    skipped = 0
    if enrollments:
        skipped = skip_pending(
            session, now=now, reason=f"stopped:{reason}", enrollment_ids=[e.id for e in enrollments]
        )
    return StopResult(contact.id, len(enrollments), skipped)


def mark_booked(
    session: Session, contact: Contact, *, now: datetime, source: str, stop_sequences: list[str]
) -> StopResult:
    """The prospect booked: remember it and stop the sequences that `stop_on: [booked]`."""
    if contact.booked_at is None:
        contact.booked_at = now
    return stop_contact(session, contact, reason="booked", now=now, sequence_ids=stop_sequences)
