"""The database schema: the source of truth for what is scheduled and what was sent.

Only the migrations change it (`nurture db upgrade`); a delivery's state only changes in
`nurture.db.transitions`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from nurture.core.clock import utcnow
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.types import UTCDateTime, enum_column

_naming = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_naming)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class Contact(Base):
    """A prospect, found again by email or phone."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str | None] = mapped_column(String(64))
    #: Current consent per channel; the ledger in `consent_events` is the record.
    consent_email: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    booked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="contact")


class ConsultationRequest(Base):
    """One consultation request as received, kept for the clinic and for idempotent replays."""

    __tablename__ = "consultation_requests"

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


class Enrollment(Base):
    """A contact's run through one sequence; its deliveries are written when it starts."""

    __tablename__ = "enrollments"
    __table_args__ = (
        # At most one live run of a sequence per contact.
        Index(
            "uq_enrollments_live",
            "contact_id",
            "sequence_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("consultation_requests.id"))
    sequence_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
    )
    stop_reason: Mapped[str | None] = mapped_column(String(200))
    #: The zone and region the schedule was planned in (resolved once, at enrollment).
    timezone: Mapped[str] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    #: When a reply paused it; resuming shifts the pending deliveries by the pause.
    paused_at: Mapped[datetime | None]

    contact: Mapped[Contact] = relationship(back_populates="enrollments")
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="enrollment", order_by="Delivery.due_at"
    )


class Delivery(Base):
    """One message of one step on one channel: the unit that is claimed, sent and tracked."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("enrollment_id", "step_id", "channel", name="uq_deliveries_step"),
        Index("ix_deliveries_status_due", "status", "due_at"),
        Index("ix_deliveries_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: No index of its own: uq_deliveries_step starts with it.
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    step_index: Mapped[int] = mapped_column(Integer)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    template: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_column(DeliveryStatus), default=DeliveryStatus.SCHEDULED
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    queued_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    error_code: Mapped[str | None] = mapped_column(String(50))
    error_detail: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Reconciliation (asking the provider about an `unknown` delivery), migration 0007_reconcile.
    #: sha256 (hex) of channel, address and body as handed to the provider; never the body.
    body_sha256: Mapped[str | None] = mapped_column(String(64))
    #: When the latest attempt took the delivery to send.
    attempted_at: Mapped[datetime | None]
    #: When reconciliation last asked the provider, and when it may ask again.
    provider_checked_at: Mapped[datetime | None]
    reconcile_after: Mapped[datetime | None]

    enrollment: Mapped[Enrollment] = relationship(back_populates="deliveries")


class DeliveryEvent(Base):
    """A state change or provider report for one delivery, for the ops timeline."""

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str | None] = mapped_column(String(500))
    #: Provider event id (Twilio MessageSid+status, SendGrid sg_event_id) for idempotency.
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)


class Suppression(Base):
    """An address we must never message again on a channel (until an opt-in lifts it)."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("channel", "address", name="uq_suppressions_address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """The consent ledger: every opt-in and opt-out with its evidence, appended, never changed."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    action: Mapped[str] = mapped_column(String(10))  # "opt_in" | "opt_out"
    source: Mapped[str] = mapped_column(String(30))  # form, api, keyword, link, webhook, ops
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderEvent(Base):
    """A webhook event already applied, so a provider's retry of it changes nothing.

    `external_id` is the provider's own id: Twilio's MessageSid (inbound) or MessageSid and
    status (reports), SendGrid's sg_event_id.
    """

    __tablename__ = "provider_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Codes and reasons only; never a message body.
    detail: Mapped[str | None] = mapped_column(String(500))


class InboundMessage(Base):
    """A text a prospect sent the clinic's number: keywords, and replies a person must read."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    provider_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    from_address: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    #: opt_out, opt_in, help, or reply (a person wrote back: shown to the clinic).
    kind: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the clinic marked the reply as dealt with.
    handled_at: Mapped[datetime | None]


class Heartbeat(Base):
    """Last sign of life of a periodic component (the scheduler's dispatcher tick)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime]
