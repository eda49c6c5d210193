"""Ops steering one delivery: cancel it, send it again, or settle an `unknown` one.

Each function works in the caller's transaction, takes `now`, and answers the delivery as it
now stands; a delivery in a state the action does not fit is an InvalidStateError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from nurture.core.states import PENDING_STATES, DeliveryStatus, EnrollmentStatus
from nurture.db.tables import Delivery, Enrollment
from nurture.db.transitions import move
from nurture.errors import InvalidStateError, NotFoundError

#: What ops may cancel: whatever has not gone out.
CANCELABLE = (*PENDING_STATES, DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)
#: What ops may send again.
RETRYABLE = (
    DeliveryStatus.FAILED,
    DeliveryStatus.UNKNOWN,
    DeliveryStatus.CANCELED,
    DeliveryStatus.SKIPPED,
    DeliveryStatus.RETRYING,
)
#: Skip reasons a resend would go against: she booked, was stopped, gave no consent or no
#: address for the channel, or the address is on the do-not-contact list.
NO_RESEND = ("booked", "no_consent", "no_address", "suppressed", "enrollment_stopped")


def resend_refusal(delivery: Delivery) -> str | None:
    """Why sending this delivery again would be wrong, or None when a retry is right."""
    if delivery.status not in RETRYABLE:
        return f"it is {delivery.status.value}"
    code = delivery.error_code or ""
    if delivery.status is DeliveryStatus.SKIPPED and (
        code in NO_RESEND or code.startswith("stopped:")
    ):
        return f"it was skipped on purpose ({code.replace('_', ' ')})"
    return None


def _delivery(session: Session, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id, with_for_update=True)
    if delivery is None:
        raise NotFoundError(f"no delivery {delivery_id}")
    return delivery


def _act(
    session: Session,
    delivery: Delivery,
    to: DeliveryStatus,
    *,
    leaving: tuple[DeliveryStatus, ...],
    now: datetime,
    detail: str,
    values: Mapping[str, Any] | None = None,
) -> Delivery:
    moved = move(
        session,
        delivery.id,
        to,
        at=now,
        leaving=leaving,
        source="ops",
        detail=detail,
        values=values,
    )
    if not moved:  # it changed between the read and the move (a send, a report)
        session.refresh(delivery)
        raise InvalidStateError(f"delivery {delivery.id} is {delivery.status.value} now")
    session.refresh(delivery)
    return delivery


def cancel_delivery(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """Cancel a delivery that has not gone out (scheduled, queued, retrying, failed, unknown)."""
    delivery = _delivery(session, delivery_id)
    if delivery.status not in CANCELABLE:
        raise InvalidStateError(
            f"delivery {delivery_id} is {delivery.status.value}; "
            "only pending, failed or unknown deliveries can be canceled"
        )
    return _act(
        session,
        delivery,
        DeliveryStatus.CANCELED,
        leaving=CANCELABLE,
        now=now,
        detail="canceled by ops",
    )


def retry_delivery(session: Session, delivery_id: int, *, now: datetime) -> Delivery:
    """Send a failed, unknown, canceled or skipped delivery again, as soon as its window allows.

    For `unknown` this is ops deciding it did not go out; the message may arrive twice.
    """
    delivery = _delivery(session, delivery_id)
    if delivery.status not in RETRYABLE:
        raise InvalidStateError(
            f"delivery {delivery_id} is {delivery.status.value}; "
            "only failed, unknown, canceled or skipped ones can be retried"
        )
    refusal = resend_refusal(delivery)
    if refusal is not None:
        raise InvalidStateError(f"delivery {delivery_id} is not sent again: {refusal}")
    enrollment = session.get_one(Enrollment, delivery.enrollment_id)
    if enrollment.status is EnrollmentStatus.STOPPED:
        raise InvalidStateError(
            f"delivery {delivery_id} belongs to a stopped enrollment ({enrollment.stop_reason})"
        )
    return _act(
        session,
        delivery,
        DeliveryStatus.SCHEDULED,
        leaving=RETRYABLE,
        now=now,
        detail="retried by ops",
        values={"due_at": now, "attempts": 0, "error_code": None, "error_detail": None},
    )


def resolve_unknown(session: Session, delivery_id: int, *, sent: bool, now: datetime) -> Delivery:
    """Ops settle an `unknown` delivery: it went out (`sent`) or it did not (`failed`)."""
    delivery = _delivery(session, delivery_id)
    if delivery.status is not DeliveryStatus.UNKNOWN:
        raise InvalidStateError(f"delivery {delivery_id} is {delivery.status.value}, not unknown")
    return _act(
        session,
        delivery,
        DeliveryStatus.SENT if sent else DeliveryStatus.FAILED,
        leaving=(DeliveryStatus.UNKNOWN,),
        now=now,
        detail=f"resolved by ops: {'sent' if sent else 'not sent'}",
        values={"error_code": None if sent else "resolved_not_sent"},
    )
