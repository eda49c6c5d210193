"""Steering: stop a prospect, book, suppress, cancel, retry and resolve deliveries.

Every function works in the caller's transaction and takes `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from nurture.addresses import normalize_email, normalize_phone
from nurture.errors import InvalidStateError, NotFoundError
from nurture.models import (
    PENDING_STATES,
    Channel,
    ConsentEvent,
    Contact,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Suppression,
)

LIVE = (EnrollmentStatus.ACTIVE, EnrollmentStatus.PAUSED)


@dataclass(frozen=True)
class StopResult:
    contact_id: int
    enrollments_stopped: int
    deliveries_skipped: int


def find_contact(
    session: Session, *, email: str | None = None, phone: str | None = None
) -> Contact:
    """The contact with this email or phone; NotFoundError names what was looked for."""
    if email:
        try:
            address = normalize_email(email)
        except ValueError:
            address = email.strip().lower()
        contact = session.scalar(select(Contact).where(Contact.email == address))
        if contact is None:
            raise NotFoundError(f"no contact with email {email!r}")
        return contact
    if phone:
        try:
            number = normalize_phone(phone)
        except ValueError as exc:
            raise NotFoundError(str(exc)) from None
        contact = session.scalar(select(Contact).where(Contact.phone == number))
        if contact is None:
            raise NotFoundError(f"no contact with phone {phone!r}")
        return contact
    raise NotFoundError("give an email or a phone number")


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
    stmt = update(Delivery).where(Delivery.status.in_(PENDING_STATES))
    if contact_id is not None:
        stmt = stmt.where(Delivery.contact_id == contact_id)
    if enrollment_ids is not None:
        stmt = stmt.where(Delivery.enrollment_id.in_(enrollment_ids))
    if channel is not None:
        stmt = stmt.where(Delivery.channel == channel)
    ids = (
        session.execute(
            stmt.values(
                status=DeliveryStatus.SKIPPED,
                error_code=reason,
                lease_expires_at=None,
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    if ids:
        session.execute(
            insert(DeliveryEvent),
            [
                {
                    "delivery_id": i,
                    "at": now,
                    "status": "skipped",
                    "source": "control",
                    "detail": reason,
                }
                for i in ids
            ],
        )
    return len(ids)


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
        Enrollment.contact_id == contact.id, Enrollment.status.in_(LIVE)
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


def add_suppression(
    session: Session, channel: Channel, address: str, *, reason: str, source: str, now: datetime
) -> None:
    """Never message `address` on `channel` again; pending deliveries to it are skipped."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    session.execute(
        module.insert(Suppression)
        .values(channel=channel, address=address, reason=reason, source=source, created_at=now)
        .on_conflict_do_nothing(index_elements=["channel", "address"])
    )
    column = Contact.email if channel is Channel.EMAIL else Contact.phone
    contact_ids = session.scalars(select(Contact.id).where(column == address)).all()
    for contact_id in contact_ids:
        skip_pending(session, now=now, reason="suppressed", contact_id=contact_id, channel=channel)


def record_consent(
    session: Session,
    contact: Contact,
    channel: Channel,
    *,
    granted: bool,
    source: str,
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    """Append to the consent ledger and update the contact's current consent."""
    session.add(
        ConsentEvent(
            contact_id=contact.id,
            channel=channel,
            action="opt_in" if granted else "opt_out",
            source=source,
            evidence=evidence,
            at=now,
        )
    )
    if channel is Channel.EMAIL:
        contact.consent_email = granted
    else:
        contact.consent_sms = granted


def mark_booked(
    session: Session, contact: Contact, *, now: datetime, source: str, stop_sequences: list[str]
) -> StopResult:
    """The prospect booked: remember it and stop the sequences that `stop_on: [booked]`."""
    if contact.booked_at is None:
        contact.booked_at = now
    return stop_contact(session, contact, reason="booked", now=now, sequence_ids=stop_sequences)


def _delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFoundError(f"no delivery {delivery_id}")
    return delivery


def _event(session: Session, delivery: Delivery, now: datetime, detail: str) -> None:
    session.add(
        DeliveryEvent(
            delivery_id=delivery.id,
            at=now,
            status=delivery.status.value,
            source="ops",
            detail=detail,
        )
    )


def cancel_delivery(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """Cancel a delivery that has not gone out (scheduled, queued, retrying, failed, unknown)."""
    delivery = _delivery(session, delivery_id)
    allowed = (*PENDING_STATES, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)
    if delivery.status not in allowed:
        raise InvalidStateError(
            f"delivery {delivery_id} is {delivery.status.value}; "
            "only pending, failed or unknown deliveries can be canceled"
        )
    delivery.status = DeliveryStatus.CANCELED
    delivery.lease_expires_at = None
    delivery.updated_at = now
    _event(session, delivery, now, "canceled by ops")
    return delivery


def retry_delivery(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """Send a failed, unknown, canceled or skipped delivery again, as soon as its window allows.

    For `unknown` this is ops deciding it did not go out; the message may arrive twice.
    """
    delivery = _delivery(session, delivery_id)
    allowed = (
        DeliveryStatus.FAILED,
        DeliveryStatus.UNKNOWN,
        DeliveryStatus.CANCELED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.RETRYING,
    )
    if delivery.status not in allowed:
        raise InvalidStateError(
            f"delivery {delivery_id} is {delivery.status.value}; "
            "only failed, unknown, canceled or skipped ones can be retried"
        )
    enrollment = session.get_one(Enrollment, delivery.enrollment_id)
    if enrollment.status is EnrollmentStatus.STOPPED:
        raise InvalidStateError(
            f"delivery {delivery_id} belongs to a stopped enrollment ({enrollment.stop_reason})"
        )
    delivery.status = DeliveryStatus.SCHEDULED
    delivery.due_at = now
    delivery.attempts = 0
    delivery.error_code = None
    delivery.error_detail = None
    delivery.lease_expires_at = None
    delivery.updated_at = now
    _event(session, delivery, now, "retried by ops")
    return delivery


def resolve_unknown(session: Session, delivery_id: int, *, sent: bool, now: datetime) -> Delivery:
    """Ops settle an `unknown` delivery: it went out (`sent`) or it did not (`failed`)."""
    delivery = _delivery(session, delivery_id)
    if delivery.status is not DeliveryStatus.UNKNOWN:
        raise InvalidStateError(f"delivery {delivery_id} is {delivery.status.value}, not unknown")
    delivery.status = DeliveryStatus.SENT if sent else DeliveryStatus.FAILED
    delivery.error_code = None if sent else "resolved_not_sent"
    delivery.updated_at = now
    _event(session, delivery, now, f"resolved by ops: {'sent' if sent else 'not sent'}")
    return delivery
