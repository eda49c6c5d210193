"""What arrives from the clinic's website and calendar: consultation requests, the hosted
form's rate counts, and bookings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.db.tables.base import Base


class ConsultationRequest(Base):
    """One consultation request as received, kept for the clinic and for idempotent replays."""

    __tablename__ = "consultation_requests"
    __table_args__ = (
        Index(
            "ix_consultation_requests_pending",
            "pending_enrollment",
            sqlite_where=text("pending_enrollment"),
            postgresql_where=text("pending_enrollment"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    concern: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))
    #: The JSON answered the first time, replayed for the same Idempotency-Key.
    response: Mapped[dict[str, Any] | None]
    #: Stored while no valid schedules were loaded; enrolled by the tick once they are.
    pending_enrollment: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class FormHit(Base):
    """Hosted-form posts counted per key (client IP, address) and window, for the rate limits
    on the embedded default (Redis counts them when it is the broker)."""

    __tablename__ = "form_hits"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BookingEvent(Base):
    """A booking (or its cancellation) reported by the clinic's calendar tool, matched to a
    prospect by email, else phone; kept even when it matches nobody."""

    __tablename__ = "booking_events"
    __table_args__ = (
        # A provider's retry of the same event changes nothing.
        UniqueConstraint("provider", "external_id", "kind", name="uq_booking_events_external"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: calendly, calcom
    provider: Mapped[str] = mapped_column(String(20))
    #: The provider's id of the booking (Calendly invitee URI, Cal.com booking uid).
    external_id: Mapped[str] = mapped_column(String(300))
    #: booked, canceled, rescheduled
    kind: Mapped[str] = mapped_column(String(20))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    #: When the appointment starts, as the provider gives it.
    starts_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormOrigin(Base):
    """A website allowed to frame the hosted form and post to it (`nurture form-snippet
    --site`), beside `NURTURE_FORM_ORIGINS`; read on each request, so no restart is needed."""

    __tablename__ = "form_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(300), unique=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
