"""A seeded queue for the ops tests: real enrollments, claims and sends through every outcome.

Provider failures come from a channel that raises the typed errors the real channels raise
(the providers' servers are the only thing that cannot exist here).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select, update

from nurture.channels.base import BaseChannel, OutgoingMessage, SendResult
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Delivery, Enrollment
from nurture.dispatch.tick import dispatch_tick
from nurture.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError
from nurture.send.pipeline import send_delivery
from tests.conftest import midday_zone
from tests.helpers import enroll, send_context

LEASE = timedelta(seconds=300)


class RaisingChannel(BaseChannel):
    """A channel whose provider answers every message with `error`."""

    def __init__(self, channel: Channel, error: SendError) -> None:
        self.channel = channel
        self.provider = error.provider
        self.error = error

    def _send(self, message: OutgoingMessage) -> SendResult:
        raise self.error


def tick(now: datetime) -> list[int]:
    """One dispatcher pass at `now`; the ids it claimed or re-dispatched."""
    with session_scope() as s:
        return dispatch_tick(s, now=now, batch=500, lease=LEASE).to_enqueue


def send(ids: list[int], now: datetime, error: SendError | None = None) -> list[object]:
    """Send claimed deliveries at `now`, through the outbox, or a provider raising `error`."""
    ctx = send_context()
    if error is not None:
        ctx = replace(ctx, channels={c: RaisingChannel(c, error) for c in Channel})
    return [send_delivery(ctx, i, now=now) for i in ids]


def pause(enrollment_id: int) -> None:
    with session_scope() as s:
        s.execute(
            update(Enrollment)
            .where(Enrollment.id == enrollment_id)
            .values(status=EnrollmentStatus.PAUSED)
        )


def set_due(delivery_id: int, due_at: datetime) -> None:
    with session_scope() as s:
        s.execute(update(Delivery).where(Delivery.id == delivery_id).values(due_at=due_at))


def ids_of(response: dict[str, object]) -> list[int]:
    return [row["delivery_id"] for row in response["schedule"]]  # type: ignore[attr-defined, index]


@dataclass(frozen=True)
class Seeded:
    """Who is who in the seeded database."""

    sent: dict[str, object]
    failed: dict[str, object]
    unknown: dict[str, object]
    retrying: dict[str, object]
    paused: dict[str, object]
    waiting: dict[str, object]


def seed(now: datetime, *, timezone: str = "Etc/UTC") -> Seeded:
    """Six prospects enrolled over the last six hours, whose first step ended differently.

    Each dispatcher pass also claims the earlier prospects' later `fast` steps (due 4 s and
    8 s after their start), which are never sent and stay `queued`, late; the last prospect's
    stay `scheduled`, late too. `waiting` enrolls at `now` in the hip-pain sequence, its steps
    days ahead; a 429 with Retry-After leaves `retrying` due again 90 minutes after `now`.
    """
    start = now - timedelta(hours=6)
    people = {}
    outcomes: list[tuple[str, SendError | None]] = [
        ("sent", None),
        ("failed", PermanentSendError("invalid number", provider="twilio", code="21211")),
        ("unknown", AmbiguousSendError("read timeout", provider="sendgrid", code="timeout")),
        (
            "retrying",
            TransientSendError("slow down", provider="twilio", code="429", retry_after_s=7200),
        ),
    ]
    for n, (name, error) in enumerate(outcomes):
        at = start + timedelta(hours=n)
        people[name] = enroll(
            at,
            first_name=name.title(),
            email=f"{name}@example.com",
            phone=f"+1617555{n:04d}",
            timezone=timezone,
        )
        own = set(ids_of(people[name])) & set(tick(at))
        # The 429 comes half an hour before `now`, so its retry falls 90 minutes ahead.
        send(sorted(own), now - timedelta(minutes=30) if name == "retrying" else at, error)
    people["paused"] = enroll(
        start, first_name="Pat", email="pat@example.com", phone="+16175550100", timezone=timezone
    )
    pause(people["paused"]["enrollment"]["id"])  # type: ignore[index]
    people["waiting"] = enroll(
        now,
        first_name="Wren",
        email="wren@example.com",
        phone="+16175550101",
        concern="outer hip pain",
        timezone=timezone,
    )
    return Seeded(**people)


def seed_now() -> tuple[datetime, Seeded]:
    """Seed around the real clock, in a zone where the last six hours were daytime (so SMS
    quiet hours hold nothing back)."""
    from nurture.core.clock import utcnow

    now = utcnow()
    return now, seed(now, timezone=midday_zone(now - timedelta(hours=3)))


def rows() -> list[Delivery]:
    with session_scope() as s:
        return list(s.scalars(select(Delivery).order_by(Delivery.id)))


def status_of(delivery_id: int) -> DeliveryStatus:
    with session_scope() as s:
        return s.get_one(Delivery, delivery_id).status
