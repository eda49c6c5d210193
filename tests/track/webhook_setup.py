"""Shared set-up for webhook tests: a prospect whose first step went out through the fake
SendGrid and Twilio (so it carries their ids), and snapshots of what a webhook may change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import (
    ConsentEvent,
    Contact,
    Delivery,
    DeliveryEvent,
    Enrollment,
    InboundMessage,
    ProviderEvent,
    Suppression,
)
from nurture.dispatch.tick import dispatch_tick
from nurture.send.pipeline import send_delivery
from tests.helpers import at, deliveries, enroll, send_context

T0 = at("2026-03-03 12:00")
PHONE = "+16175550199"
EMAIL = "robin@example.com"


def first_step_sent() -> dict[Channel, Delivery]:
    """Enroll Robin in `fast` and send its first step on both channels (to the fake)."""
    enroll(T0)
    with session_scope() as s:
        ids = dispatch_tick(s, now=T0, batch=100, lease=timedelta(seconds=300)).claimed
    ctx = send_context()
    for delivery_id in ids:
        send_delivery(ctx, delivery_id, now=T0)
    return {d.channel: d for d in deliveries() if d.id in ids}


def by_step() -> dict[tuple[str, Channel], Delivery]:
    return {(d.step_id, d.channel): d for d in deliveries()}


def contact() -> Contact:
    with session_scope() as s:
        found = s.scalar(select(Contact).where(Contact.phone == PHONE))
        assert found is not None
        return found


def enrollment() -> Enrollment:
    with session_scope() as s:
        found = s.scalar(select(Enrollment))
        assert found is not None
        return found


def consent_events() -> list[ConsentEvent]:
    with session_scope() as s:
        return list(s.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


def suppressions() -> list[Suppression]:
    with session_scope() as s:
        return list(s.scalars(select(Suppression).order_by(Suppression.id)))


def snapshot() -> tuple[object, ...]:
    """Everything a webhook could change, to prove a refused one changed nothing."""
    with session_scope() as s:
        counts = tuple(
            s.scalar(select(func.count()).select_from(model))
            for model in (ConsentEvent, Suppression, ProviderEvent, InboundMessage, DeliveryEvent)
        )
        states = tuple(s.execute(select(Delivery.id, Delivery.status).order_by(Delivery.id)))
        enrollments = tuple(s.execute(select(Enrollment.id, Enrollment.status)))
        consent = tuple(s.execute(select(Contact.consent_email, Contact.consent_sms)))
    return counts, states, enrollments, consent
