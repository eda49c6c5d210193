"""Sending one delivery: claim it, check it may go, render, hand it over, record the outcome.

The claim is a compare-and-set `queued → sending`: of any number of task messages for one
delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one wins. The
stop, suppression, consent and window checks run in that same transaction, so a stop that
committed first is always seen. Only ambiguous outcomes leave a delivery `unknown`; nothing
re-sends an `unknown` delivery by itself.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from nurture.channels.base import BaseChannel, OutgoingMessage
from nurture.config import Settings
from nurture.errors import (
    AmbiguousSendError,
    PermanentSendError,
    TemplateError,
    TransientSendError,
)
from nurture.messages import ContactView, contact_view, envelope, quiet_hours_end, render_step
from nurture.models import (
    Channel,
    ConsultationRequest,
    Contact,
    Delivery,
    DeliveryEvent,
    DeliveryStatus,
    Enrollment,
    EnrollmentStatus,
    Suppression,
)
from nurture.schedules import Catalog, Sequence, Step
from nurture.scheduling import hold_until
from nurture.templates import Renderer

log = structlog.get_logger(__name__)
_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_EVENTS: Table = DeliveryEvent.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class SendContext:
    """What a worker process holds for sending: settings, schedules, renderer, channels."""

    settings: Settings
    catalog: Catalog
    renderer: Renderer
    channels: dict[Channel, BaseChannel]
    sessions: sessionmaker[Session]


def compute_backoff(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before attempt `attempt + 1`: exponential with full jitter, at least Retry-After."""
    rng = rng or random.Random()
    ceiling = min(max_s, base_s * (2 ** max(attempt - 1, 0)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return float(min(delay, max(max_s, retry_after_s or 0)))


@dataclass(frozen=True)
class _Claimed:
    delivery: Delivery
    enrollment: Enrollment
    contact: ContactView
    sequence: Sequence | None
    step: Step | None
    #: The contact's current consent on the delivery's channel.
    consent: bool
    #: The delivery's address is on the channel's suppression list.
    suppressed: bool


def send_delivery(ctx: SendContext, delivery_id: int, *, now: datetime) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did."""
    with ctx.sessions.begin() as session:
        claimed = _claim(session, ctx, delivery_id, now)
        if claimed is None:
            log.info("send.lost_claim", delivery_id=delivery_id)
            return None
        verdict = _may_send(session, ctx, claimed, now)
        if verdict is not None:
            return verdict

    delivery, _contact = claimed.delivery, claimed.contact
    log_ctx: dict[str, str | int] = {
        "enrollment_id": delivery.enrollment_id,
        "step": delivery.step_id,
        "channel": delivery.channel.value,
    }
    try:
        message = _compose(ctx, claimed, now)
    except TemplateError as exc:
        # Nothing went out; ops fix the template and `nurture retry` it.
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.FAILED,
            now,
            code="template_error",
            detail=str(exc)[:500],
            log_ctx=log_ctx,
        )

    channel = ctx.channels[delivery.channel]
    try:
        result = channel.send(message)
    except TransientSendError as exc:
        if delivery.attempts >= ctx.settings.send_max_attempts:
            return _finish(
                ctx,
                delivery_id,
                DeliveryStatus.FAILED,
                now,
                code=exc.code,
                detail=f"retries spent: {exc}",
                log_ctx=log_ctx,
            )
        wait_s = compute_backoff(
            delivery.attempts,
            base_s=ctx.settings.retry_base_s,
            max_s=ctx.settings.retry_max_s,
            retry_after_s=exc.retry_after_s,
        )
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.RETRYING,
            now,
            code=exc.code,
            detail=str(exc),
            due_at=now + timedelta(seconds=wait_s),
            log_ctx=log_ctx,
        )
    except PermanentSendError as exc:
        if exc.suppress:
            _suppress(
                ctx, delivery.channel, message.to, reason=f"{exc.provider}:{exc.code}", now=now
            )
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.FAILED,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except AmbiguousSendError as exc:
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.UNKNOWN,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except Exception as exc:
        # We cannot tell whether the provider got it: never guess, let ops decide.
        log.exception("send.crashed", delivery_id=delivery_id, **log_ctx)
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.UNKNOWN,
            now,
            code="crash",
            detail=type(exc).__name__,
            log_ctx=log_ctx,
        )
    return _finish(
        ctx,
        delivery_id,
        DeliveryStatus.SENT,
        now,
        provider=result.provider,
        provider_message_id=result.message_id,
        log_ctx=log_ctx,
    )


def _claim(session: Session, ctx: SendContext, delivery_id: int, now: datetime) -> _Claimed | None:
    """The compare-and-set `queued → sending`, then all the send needs in one more query.

    Both run in the caller's transaction, so the stop, consent and suppression state read
    here is the one the claim commits with.
    """
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
    email = delivery.channel is Channel.EMAIL
    address = Contact.email if email else Contact.phone
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
    sequence = ctx.catalog.sequences.get(enrollment.sequence_id)
    step = None
    if sequence is not None:
        step = next((s for s in sequence.steps if s.id == delivery.step_id), None)
    view = contact_view(contact, concern=concern, timezone=enrollment.timezone)
    consent = contact.consent_email if email else contact.consent_sms
    return _Claimed(delivery, enrollment, view, sequence, step, bool(consent), bool(is_suppressed))


def _may_send(
    session: Session, ctx: SendContext, c: _Claimed, now: datetime
) -> DeliveryStatus | None:
    """None if the delivery may go now; else park it (skipped or held) and say how."""
    delivery, contact = c.delivery, c.contact
    address = contact.email if delivery.channel is Channel.EMAIL else contact.phone
    reason: str | None = None
    if c.enrollment.status is not EnrollmentStatus.ACTIVE:
        reason = f"enrollment_{c.enrollment.status.value}"
    elif not address:
        reason = "no_address"
    elif c.suppressed:
        reason = "suppressed"
    elif not c.consent:
        reason = "no_consent"
    elif contact.booked and c.sequence is not None and "booked" in c.sequence.stop_on:
        reason = "booked"
    elif c.step is not None and c.step.when and not _when(c, ctx):
        reason = "condition_false"
    if reason is not None:
        _set(session, delivery.id, DeliveryStatus.SKIPPED, now, code=reason)
        log.info("send.skipped", delivery_id=delivery.id, reason=reason)
        return DeliveryStatus.SKIPPED
    opening = hold_until(
        now,
        tz=ZoneInfo(c.enrollment.timezone),
        sequence=c.sequence,
        channel=delivery.channel,
        region=c.enrollment.region,
    )
    if opening > now:
        # Late (a backlog, an outage): hold to the window's next opening, never drop.
        _set(
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


def _when(c: _Claimed, ctx: SendContext) -> bool:
    assert c.step is not None and c.step.when
    expression = ctx.renderer.env.compile_expression(c.step.when)
    return bool(
        expression(
            contact=c.contact, step={"id": c.step.id}, sequence={"id": c.enrollment.sequence_id}
        )
    )


def _compose(ctx: SendContext, c: _Claimed, now: datetime) -> OutgoingMessage:
    if c.sequence is None or c.step is None:
        raise TemplateError(
            f"step {c.delivery.step_id!r} of sequence "
            f"{c.enrollment.sequence_id!r} is no longer in the schedule files"
        )
    rendered = render_step(
        ctx.renderer,
        settings=ctx.settings,
        catalog=ctx.catalog,
        sequence=c.sequence,
        step=c.step,
        channel=c.delivery.channel,
        contact=c.contact,
        delivery_id=c.delivery.id,
    )
    not_after = None
    if c.delivery.channel is Channel.SMS:
        not_after = quiet_hours_end(now, c.enrollment.timezone, c.enrollment.region)
    return envelope(
        settings=ctx.settings,
        catalog=ctx.catalog,
        delivery_id=c.delivery.id,
        enrollment_id=c.enrollment.id,
        contact=c.contact,
        rendered=rendered,
        now=now,
        not_after=not_after,
    )


def _set(
    session: Session,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    code: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    attempts: int | None = None,
    from_states: tuple[DeliveryStatus, ...] | None = None,
    extra: dict[str, str | datetime | None] | None = None,
) -> bool:
    values: dict[str, object] = {
        "status": status,
        "updated_at": now,
        "lease_expires_at": None,
        "error_code": code,
        "error_detail": detail,
        **(extra or {}),
    }
    if due_at is not None:
        values["due_at"] = due_at
    if attempts is not None:
        values["attempts"] = attempts
    # Core statements on the tables: the ORM's bulk-update and unit-of-work machinery cost
    # more than the round trips here, and nothing in the session needs refreshing.
    stmt = update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id)
    if from_states:
        stmt = stmt.where(_DELIVERIES.c.status.in_(from_states))
    done = session.execute(stmt.values(**values))
    changed = bool(done.rowcount)  # type: ignore[attr-defined]
    if changed:
        note = code if detail is None else f"{code}: {detail}"
        session.execute(
            insert(_EVENTS).values(
                delivery_id=delivery_id,
                at=now,
                status=status.value,
                source="worker",
                detail=note[:500] if note else None,
            )
        )
    return changed


def _finish(
    ctx: SendContext,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    code: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
    log_ctx: dict[str, str | int],
) -> DeliveryStatus:
    extra: dict[str, str | datetime | None] = {}
    if provider:
        extra = {"provider": provider, "provider_message_id": provider_message_id, "sent_at": now}
    with ctx.sessions.begin() as session:
        # `unknown` too: if the lease ran out mid-send, the real outcome still wins.
        _set(
            session,
            delivery_id,
            status,
            now,
            code=code,
            detail=detail,
            due_at=due_at,
            from_states=(DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN),
            extra=extra,
        )
    event = "send.sent" if status is DeliveryStatus.SENT else "send.finished"
    log.info(event, delivery_id=delivery_id, status=status.value, code=code, **log_ctx)
    return status


def _suppress(
    ctx: SendContext, channel: Channel, address: str, *, reason: str, now: datetime
) -> None:
    from nurture.control import add_suppression

    with ctx.sessions.begin() as session:
        add_suppression(session, channel, address, reason=reason, source="provider", now=now)
