"""Sending one delivery: claim it, check it may go, render, hand it over, record the outcome.

The claim is a compare-and-set `queued → sending`: of any number of task messages for one
delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one wins. The
stop, suppression, consent and window checks run in that same transaction, so a stop that
committed first is always seen. Only ambiguous outcomes leave a delivery `unknown`; nothing
re-sends an `unknown` delivery by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from nurture.backoff import compute_backoff
from nurture.channels.base import BaseChannel
from nurture.config import Settings
from nurture.consent import refuse_address
from nurture.errors import (
    AmbiguousSendError,
    PermanentSendError,
    TemplateError,
    TransientSendError,
)
from nurture.messages import ContactView, compose_message, contact_view
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
from nurture.ops.metrics import record_send
from nurture.ratelimit import Throttle
from nurture.schedules import Catalog, Sequence, Step
from nurture.scheduling import hold_until
from nurture.templates import Renderer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendContext:
    """What a worker process holds for sending: settings, schedules, renderer, channels."""

    settings: Settings
    catalog: Catalog
    renderer: Renderer
    channels: dict[Channel, BaseChannel]
    sessions: sessionmaker[Session]
    #: Per-channel rate limits (NURTURE_SMS_RATE / EMAIL_RATE); None when there are none.
    throttle: Throttle | None = None


@dataclass(frozen=True)
class _Claimed:
    delivery: Delivery
    enrollment: Enrollment
    contact: ContactView
    sequence: Sequence | None
    step: Step | None


def send_delivery(ctx: SendContext, delivery_id: int, *, now: datetime) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did."""
    lease = timedelta(seconds=ctx.settings.lease_s)
    with ctx.sessions.begin() as session:
        won = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.QUEUED)
            .values(
                status=DeliveryStatus.SENDING,
                attempts=Delivery.attempts + 1,
                lease_expires_at=now + lease,
                updated_at=now,
            )
            .returning(Delivery.id)
            .execution_options(synchronize_session=False)
        ).first()
        if won is None:
            log.info("send.lost_claim", delivery_id=delivery_id)
            return None
        claimed = _load(session, ctx.catalog, delivery_id)
        structlog.contextvars.bind_contextvars(enrollment_id=claimed.delivery.enrollment_id)
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
        message = compose_message(
            ctx.renderer,
            settings=ctx.settings,
            catalog=ctx.catalog,
            delivery=delivery,
            enrollment=claimed.enrollment,
            contact=claimed.contact,
            sequence=claimed.sequence,
            step=claimed.step,
            now=now,
        )
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
    if ctx.throttle is not None:
        verdict, now = _take_turn(ctx, claimed, now)
        if verdict is not None:
            return verdict
        message = replace(message, now=now)
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
            with ctx.sessions.begin() as session:
                refuse_address(session, delivery, message.to, exc, now=now)
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
        lateness_s=(now - delivery.due_at).total_seconds(),
    )


def _load(session: Session, catalog: Catalog, delivery_id: int) -> _Claimed:
    delivery = session.get_one(Delivery, delivery_id)
    enrollment = session.get_one(Enrollment, delivery.enrollment_id)
    contact = session.get_one(Contact, delivery.contact_id)
    concern = session.scalar(
        select(ConsultationRequest.concern).where(ConsultationRequest.id == enrollment.request_id)
    )
    sequence = catalog.sequences.get(enrollment.sequence_id)
    step = None
    if sequence is not None:
        step = next((s for s in sequence.steps if s.id == delivery.step_id), None)
    view = contact_view(contact, concern=concern, timezone=enrollment.timezone)
    return _Claimed(delivery, enrollment, view, sequence, step)


def _may_send(
    session: Session, ctx: SendContext, c: _Claimed, now: datetime
) -> DeliveryStatus | None:
    """None if the delivery may go now; else park it (skipped or held) and say how."""
    delivery, contact = c.delivery, c.contact
    address = contact.email if delivery.channel is Channel.EMAIL else contact.phone
    consent = session.scalar(
        select(
            Contact.consent_email if delivery.channel is Channel.EMAIL else Contact.consent_sms
        ).where(Contact.id == contact.id)
    )
    reason: str | None = None
    if c.enrollment.status is EnrollmentStatus.PAUSED:
        # A person wrote back: hold the message until the clinic resumes or stops the run.
        _set(
            session,
            delivery.id,
            DeliveryStatus.SCHEDULED,
            now,
            code="enrollment_paused",
            attempts=delivery.attempts - 1,
        )
        return DeliveryStatus.SCHEDULED
    if c.enrollment.status is not EnrollmentStatus.ACTIVE:
        reason = f"enrollment_{c.enrollment.status.value}"
    elif not address:
        reason = "no_address"
    elif session.scalar(
        select(Suppression.id).where(
            Suppression.channel == delivery.channel, Suppression.address == address
        )
    ):
        reason = "suppressed"
    elif not consent:
        reason = "no_consent"
    elif contact.booked and c.sequence is not None and "booked" in c.sequence.stop_on:
        reason = "booked"
    elif c.step is not None and c.step.when and not _when(c, ctx):
        reason = "condition_false"
    if reason is not None:
        _set(session, delivery.id, DeliveryStatus.SKIPPED, now, code=reason)
        log.info("send.skipped", delivery_id=delivery.id, reason=reason)
        record_send(
            channel=delivery.channel.value, step=delivery.step_id, status=DeliveryStatus.SKIPPED
        )
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


def _take_turn(
    ctx: SendContext, c: _Claimed, now: datetime
) -> tuple[DeliveryStatus | None, datetime]:
    """Wait for the channel's rate slot; hand the delivery back when the slot is far off.

    After a wait, the checks run again: a stop that came meanwhile still wins.
    """
    assert ctx.throttle is not None
    turn = ctx.throttle.wait_turn(c.delivery.channel)
    if turn.retry_in_s is not None:
        with ctx.sessions.begin() as session:
            _set(
                session,
                c.delivery.id,
                DeliveryStatus.SCHEDULED,
                now,
                code="rate_limited",
                due_at=now + timedelta(seconds=turn.retry_in_s),
                attempts=c.delivery.attempts - 1,
                from_states=(DeliveryStatus.SENDING,),
            )
        log.info("send.rate_limited", delivery_id=c.delivery.id, retry_in_s=turn.retry_in_s)
        return DeliveryStatus.SCHEDULED, now
    if not turn.waited_s:
        return None, now
    now += timedelta(seconds=turn.waited_s)
    with ctx.sessions.begin() as session:
        return _may_send(session, ctx, _load(session, ctx.catalog, c.delivery.id), now), now


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
    stmt = update(Delivery).where(Delivery.id == delivery_id)
    if from_states:
        stmt = stmt.where(Delivery.status.in_(from_states))
    done = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    changed = bool(done.rowcount)  # type: ignore[attr-defined]
    if changed:
        note = code if detail is None else f"{code}: {detail}"
        session.add(
            DeliveryEvent(
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
    lateness_s: float | None = None,
) -> DeliveryStatus:
    extra: dict[str, str | datetime | None] = {}
    if provider:
        extra = {"provider": provider, "provider_message_id": provider_message_id, "sent_at": now}
    with ctx.sessions.begin() as session:
        # `unknown` too: if the lease ran out mid-send, the real outcome still wins.
        changed = _set(
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
        if not changed and extra:
            # A delivery report got here first and moved the status on: keep the provider id.
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.provider_message_id.is_(None))
                .values(**extra)
                .execution_options(synchronize_session=False)
            )
    event = "send.sent" if status is DeliveryStatus.SENT else "send.finished"
    log.info(event, delivery_id=delivery_id, status=status.value, code=code, **log_ctx)
    channel = Channel(str(log_ctx["channel"]))
    record_send(
        channel=channel.value,
        step=str(log_ctx["step"]),
        status=status,
        provider=provider or ctx.channels[channel].provider,
        code=code,
        lateness_s=lateness_s,
    )
    return status
