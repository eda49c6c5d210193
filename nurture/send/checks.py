"""Whether a taken delivery may go now: the reasons it must not go at all (skipped), and
the send windows it must wait for (held). A delivery that may not go is parked, never lost:
skipped with its reason, or back to `scheduled` for its next opening."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.orm import Session

from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.core.zones import zone
from nurture.db.tables import Delivery
from nurture.db.transitions import move
from nurture.schedule.plan import hold_until
from nurture.send.metrics import record_send
from nurture.send.taken import Taken

if TYPE_CHECKING:
    from nurture.send.context import SendContext

log = structlog.get_logger(__name__)


def skip_reason(c: Taken, ctx: SendContext) -> str | None:
    """Why the delivery must not go at all, or None."""
    contact = c.contact
    if c.enrollment.status is not EnrollmentStatus.ACTIVE:
        return f"enrollment_{c.enrollment.status.value}"
    if not c.address:
        return "no_address"
    if c.suppressed:
        return "suppressed"
    if not c.consent:
        return "no_consent"
    if contact.booked and c.sequence is not None and "booked" in c.sequence.stop_on:
        return "booked"
    if c.step is not None and c.step.when and not condition_holds(c, ctx):
        return "condition_false"
    return None


def window_opening(c: Taken, now: datetime) -> datetime:
    """When the delivery may go: `now`, or the next opening of its send windows."""
    return hold_until(
        now,
        tz=zone(c.enrollment.timezone),
        sequence=c.sequence,
        channel=c.delivery.channel,
        region=c.enrollment.region,
    )


def may_send(session: Session, ctx: SendContext, c: Taken, now: datetime) -> DeliveryStatus | None:
    """None if the taken delivery may go now; else park it (skipped or held) and say how."""
    delivery = c.delivery
    if c.enrollment.status is EnrollmentStatus.PAUSED:
        # A person wrote back: hold the message until the clinic resumes or stops the run.
        park(session, delivery, DeliveryStatus.SCHEDULED, now, code="enrollment_paused")
        return DeliveryStatus.SCHEDULED
    reason = skip_reason(c, ctx)
    if reason is not None:
        park(session, delivery, DeliveryStatus.SKIPPED, now, code=reason)
        log.info("send.skipped", delivery_id=delivery.id, reason=reason)
        record_send(
            channel=delivery.channel.value, step=delivery.step_id, status=DeliveryStatus.SKIPPED
        )
        return DeliveryStatus.SKIPPED
    opening = window_opening(c, now)
    if opening > now:
        # Late (a backlog, an outage): hold to the window's next opening, never drop.
        park(
            session, delivery, DeliveryStatus.SCHEDULED, now, code="held_for_window", due_at=opening
        )
        log.info("send.held", delivery_id=delivery.id, until=opening.isoformat())
        return DeliveryStatus.SCHEDULED
    return None


def condition_holds(c: Taken, ctx: SendContext) -> bool:
    """The step's `when` expression, on what templates may know."""
    assert c.step is not None and c.step.when
    expression = ctx.renderer.env.compile_expression(c.step.when)
    return bool(
        expression(
            contact=c.contact, step={"id": c.step.id}, sequence={"id": c.enrollment.sequence_id}
        )
    )


def park(
    session: Session,
    delivery: Delivery,
    to: DeliveryStatus,
    now: datetime,
    *,
    code: str,
    due_at: datetime | None = None,
) -> bool:
    """Move a taken delivery (`sending`) that will not go now to `to` with the reason `code`.

    Back to `scheduled`, its attempt is given back: holding a message is not trying it.
    """
    values: dict[str, object] = {"error_code": code, "error_detail": None}
    if to is DeliveryStatus.SCHEDULED:
        values["attempts"] = delivery.attempts - 1
    if due_at is not None:
        values["due_at"] = due_at
    return move(
        session,
        delivery.id,
        to,
        at=now,
        leaving=(DeliveryStatus.SENDING,),
        source="worker",
        detail=code,
        values=values,
    )
