"""Claiming a delivery for sending: the compare-and-set and the checks that commit with it.

The claim is a compare-and-set `queued → sending`; the stop, consent and suppression checks
commit with it, so a stop that committed first is always seen. Two ways to claim:

- `claim` (any delivery): the CAS, then one joined query for what the send needs and the
  checks, in the caller's transaction; `may_send` then skips or holds what may not go now.
- `claim_many` (deliveries read ahead by `preload`, the common case): guarded UPDATEs whose
  WHERE carries the checks, so each wins only if its delivery may go (one statement for the
  batch on PostgreSQL). A delivery not won falls back to `claim`, which finds out why (lost,
  skipped or held).

How a send ends is recorded by `nurture.outcomes`.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import (
    Boolean,
    Integer,
    Table,
    bindparam,
    case,
    column,
    exists,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from nurture.messages import ContactView, contact_view
from nurture.models import (
    Channel,
    ConsultationRequest,
    Contact,
    Delivery,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Suppression,
)
from nurture.ops.metrics import record_send
from nurture.outcomes import autocommit, engine_of, set_status
from nurture.schedules import Sequence, Step
from nurture.scheduling import hold_until

if TYPE_CHECKING:
    from nurture.sending import SendContext

log = structlog.get_logger(__name__)
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_ENROLLMENTS: Table = Enrollment.__table__  # type: ignore[assignment]
_CONTACTS: Table = Contact.__table__  # type: ignore[assignment]
_SUPPRESSIONS: Table = Suppression.__table__  # type: ignore[assignment]


@dataclass
class Claimed:
    """A delivery this worker holds, with what sending it needs."""

    delivery: Delivery
    enrollment: Enrollment
    contact: ContactView
    sequence: Sequence | None
    step: Step | None
    #: The contact's current consent on the delivery's channel.
    consent: bool
    #: The delivery's address is on the channel's suppression list.
    suppressed: bool


def _claimed(
    ctx: SendContext,
    delivery: Delivery,
    enrollment: Enrollment,
    contact: Contact,
    concern: str | None,
    suppressed: bool,
) -> Claimed:
    sequence = ctx.catalog.sequences.get(enrollment.sequence_id)
    step = None
    if sequence is not None:
        step = next((s for s in sequence.steps if s.id == delivery.step_id), None)
    view = contact_view(contact, concern=concern, timezone=enrollment.timezone)
    consent = contact.consent_email if delivery.channel is Channel.EMAIL else contact.consent_sms
    return Claimed(delivery, enrollment, view, sequence, step, bool(consent), suppressed)


def claim(session: Session, ctx: SendContext, delivery_id: int, now: datetime) -> Claimed | None:
    """The CAS `queued → sending`, then all the send needs in one more query (same transaction)."""
    lease = timedelta(seconds=ctx.settings.lease_s)
    delivery = session.scalars(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=Delivery.attempts + 1,
            lease_expires_at=now + lease,
            updated_at=now,
        )
        .returning(Delivery)
        .execution_options(synchronize_session=False)
    ).first()
    if delivery is None:
        return None
    return _with_context(session, ctx, delivery)


def load(session: Session, ctx: SendContext, delivery_id: int) -> Claimed:
    """What sending a delivery needs and the state of its checks, read now (no claim)."""
    return _with_context(session, ctx, session.get_one(Delivery, delivery_id))


def _with_context(session: Session, ctx: SendContext, delivery: Delivery) -> Claimed:
    """The enrollment, contact, concern and suppression of `delivery`, in one query."""
    address = Contact.email if delivery.channel is Channel.EMAIL else Contact.phone
    suppressed = (
        select(Suppression.id)
        .where(Suppression.channel == delivery.channel, Suppression.address == address)
        .exists()
    )
    enrollment, contact, concern, is_suppressed = session.execute(
        select(Enrollment, Contact, ConsultationRequest.concern, suppressed)
        .select_from(Enrollment)
        .join(Contact, Contact.id == delivery.contact_id)
        .outerjoin(ConsultationRequest, ConsultationRequest.id == Enrollment.request_id)
        .where(Enrollment.id == delivery.enrollment_id)
    ).one()
    return _claimed(ctx, delivery, enrollment, contact, concern, bool(is_suppressed))


def preload(ctx: SendContext, delivery_ids: Seq[int]) -> dict[int, Claimed]:
    """Read ahead, in one query, the `queued` deliveries of a batch and what sending needs.

    Nothing is claimed: `claim_many` does that, just before the sends.
    """
    if not delivery_ids:
        return {}
    with ctx.sessions() as session:
        rows = session.execute(
            select(Delivery, Enrollment, Contact, ConsultationRequest.concern)
            .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
            .join(Contact, Contact.id == Delivery.contact_id)
            .outerjoin(ConsultationRequest, ConsultationRequest.id == Enrollment.request_id)
            .where(Delivery.id.in_(delivery_ids), Delivery.status == DeliveryStatus.QUEUED)
        ).all()
    # Closing the session detaches the rows with their loaded state (it expires nothing).
    return {d.id: _claimed(ctx, d, e, c, concern, False) for d, e, c, concern in rows}


def claim_many(ctx: SendContext, ahead: Seq[Claimed], now: datetime) -> set[int]:
    """Claim preloaded deliveries that may go now as read, with guarded UPDATEs; the ids won.

    One statement for the whole batch on PostgreSQL, one per delivery on SQLite. A delivery
    not won (stopped, suppressed, changed, held, or another worker won) is left for the
    caller to claim the long way, which settles the case. The won ones are `sending` here.
    """
    going = [c for c in ahead if skip_reason(c, ctx) is None and window_opening(c, now) <= now]
    if not going:
        return set()
    lease_expires_at = now + timedelta(seconds=ctx.settings.lease_s)
    engine = engine_of(ctx)
    with autocommit(engine) as conn:
        if engine.dialect.name == "postgresql":
            params: dict[str, Any] = {
                "ids": [c.delivery.id for c in going],
                "addresses": [_address(c) for c in going],
                "check_booked": [not c.contact.booked for c in going],
                "now": now,
                "lease_expires_at": lease_expires_at,
            }
            won = {i: n for i, n in conn.execute(_guarded_claims(), params)}
        else:
            won = {}
            for c in going:
                one = {
                    "delivery_id": c.delivery.id,
                    "address": _address(c),
                    "now": now,
                    "lease_expires_at": lease_expires_at,
                }
                stmt = _guarded_claim(c.delivery.channel, check_booked=not c.contact.booked)
                attempts = conn.execute(stmt, one).scalar()
                if attempts is not None:
                    won[c.delivery.id] = attempts
    for c in going:
        if c.delivery.id in won:
            c.delivery.attempts = won[c.delivery.id]
            c.delivery.status = DeliveryStatus.SENDING
    return set(won)


def _address(c: Claimed) -> str | None:
    return c.contact.email if c.delivery.channel is Channel.EMAIL else c.contact.phone


@lru_cache(maxsize=1)
def _guarded_claims() -> Any:
    """`_guarded_claim` for a whole batch (PostgreSQL): the ids, the addresses as read and
    whether to check the booking come as arrays, so the statement is built once."""
    d, e, k, s = _DELIVERIES, _ENROLLMENTS, _CONTACTS, _SUPPRESSIONS
    v = (
        func.unnest(
            bindparam("ids", type_=ARRAY(Integer)),
            bindparam("addresses", type_=ARRAY(k.c.email.type)),
            bindparam("check_booked", type_=ARRAY(Boolean)),
        )
        .table_valued(
            column("id", Integer),
            column("address", k.c.email.type),
            column("check_booked", Boolean),
        )
        .render_derived(name="v")
    )
    email = d.c.channel == Channel.EMAIL
    may_go = (
        exists()
        .where(
            e.c.id == d.c.enrollment_id,
            e.c.status == EnrollmentStatus.ACTIVE,
            k.c.id == d.c.contact_id,
            case((email, k.c.consent_email), else_=k.c.consent_sms).is_(True),
            case((email, k.c.email), else_=k.c.phone) == v.c.address,
            or_(~v.c.check_booked, k.c.booked_at.is_(None)),
            ~exists()
            .where(s.c.channel == d.c.channel, s.c.address == v.c.address)
            .correlate_except(s),
        )
        .correlate_except(e, k)
    )
    return (
        update(d)
        .where(d.c.id == v.c.id, d.c.status == DeliveryStatus.QUEUED, may_go)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=d.c.attempts + 1,
            lease_expires_at=bindparam("lease_expires_at", type_=d.c.lease_expires_at.type),
            updated_at=bindparam("now", type_=d.c.updated_at.type),
        )
        .returning(d.c.id, d.c.attempts)
    )


@lru_cache(maxsize=4)
def _guarded_claim(channel: Channel, *, check_booked: bool) -> Any:
    """The CAS with the checks in its WHERE; built once per variant, so SQLAlchemy's
    statement cache is hit without walking a new statement on every send."""
    email = channel is Channel.EMAIL
    d, e, k, s = _DELIVERIES, _ENROLLMENTS, _CONTACTS, _SUPPRESSIONS
    address = bindparam("address", type_=k.c.email.type)
    # Everything `skip_reason` read that others may change, checked again in the claim itself.
    may_go = exists().where(
        e.c.id == d.c.enrollment_id,
        e.c.status == EnrollmentStatus.ACTIVE,
        k.c.id == d.c.contact_id,
        (k.c.consent_email if email else k.c.consent_sms).is_(True),
        (k.c.email if email else k.c.phone) == address,
        k.c.booked_at.is_(None) if check_booked else true(),
        ~exists().where(s.c.channel == channel, s.c.address == address),
    )
    return (
        update(d)
        .where(d.c.id == bindparam("delivery_id"), d.c.status == DeliveryStatus.QUEUED, may_go)
        .values(
            status=DeliveryStatus.SENDING,
            attempts=d.c.attempts + 1,
            lease_expires_at=bindparam("lease_expires_at", type_=d.c.lease_expires_at.type),
            updated_at=bindparam("now", type_=d.c.updated_at.type),
        )
        .returning(d.c.attempts)
    )


def skip_reason(c: Claimed, ctx: SendContext) -> str | None:
    """Why the delivery must not go at all, or None."""
    delivery, contact = c.delivery, c.contact
    address = contact.email if delivery.channel is Channel.EMAIL else contact.phone
    if c.enrollment.status is not EnrollmentStatus.ACTIVE:
        return f"enrollment_{c.enrollment.status.value}"
    if not address:
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


def window_opening(c: Claimed, now: datetime) -> datetime:
    """When the delivery may go: `now`, or the next opening of its send windows."""
    return hold_until(
        now,
        tz=ZoneInfo(c.enrollment.timezone),
        sequence=c.sequence,
        channel=c.delivery.channel,
        region=c.enrollment.region,
    )


def may_send(
    session: Session, ctx: SendContext, c: Claimed, now: datetime
) -> DeliveryStatus | None:
    """None if the claimed delivery may go now; else park it (skipped or held) and say how."""
    delivery = c.delivery
    if c.enrollment.status is EnrollmentStatus.PAUSED:
        # A person wrote back: hold the message until the clinic resumes or stops the run.
        set_status(
            session,
            delivery.id,
            DeliveryStatus.SCHEDULED,
            now,
            code="enrollment_paused",
            attempts=delivery.attempts - 1,
        )
        return DeliveryStatus.SCHEDULED
    reason = skip_reason(c, ctx)
    if reason is not None:
        set_status(session, delivery.id, DeliveryStatus.SKIPPED, now, code=reason)
        log.info("send.skipped", delivery_id=delivery.id, reason=reason)
        record_send(
            channel=delivery.channel.value, step=delivery.step_id, status=DeliveryStatus.SKIPPED
        )
        return DeliveryStatus.SKIPPED
    opening = window_opening(c, now)
    if opening > now:
        # Late (a backlog, an outage): hold to the window's next opening, never drop.
        set_status(
            session,
            delivery.id,
            DeliveryStatus.SCHEDULED,
            now,
            due_at=opening,
            code="held_for_window",
            attempts=delivery.attempts - 1,
        )
        log.info("send.held", delivery_id=delivery.id, until=opening.isoformat())
        return DeliveryStatus.SCHEDULED
    return None


def condition_holds(c: Claimed, ctx: SendContext) -> bool:
    """The step's `when` expression, on what templates may know."""
    assert c.step is not None and c.step.when
    expression = ctx.renderer.env.compile_expression(c.step.when)
    return bool(
        expression(
            contact=c.contact, step={"id": c.step.id}, sequence={"id": c.enrollment.sequence_id}
        )
    )
