"""The database schema: the source of truth for what is scheduled and what was sent."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy import (
    Enum as SAEnum,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone, so we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The one place that reads the wall clock for storage; pure code takes `now` instead."""
    return datetime.now(UTC)


class DeliveryStatus(StrEnum):
    """Where one (enrollment, step, channel) message stands."""

    #: Written at enrollment; waits for its due time.
    SCHEDULED = "scheduled"
    #: Claimed by the dispatcher; a send task is on the broker (lease running).
    QUEUED = "queued"
    #: A worker won the compare-and-set and is talking to the provider (lease running).
    SENDING = "sending"
    #: The provider failed to process it; waits for its next attempt (due_at).
    RETRYING = "retrying"
    #: The provider accepted it.
    SENT = "sent"
    #: The provider reports it reached the handset or mailbox.
    DELIVERED = "delivered"
    #: The provider reports it could not be delivered (carrier filtering, unreachable).
    UNDELIVERED = "undelivered"
    #: The mailbox rejected it.
    BOUNCED = "bounced"
    #: Not sent on purpose: stopped, suppressed, no consent, no address, `when` false.
    SKIPPED = "skipped"
    #: Canceled by ops.
    CANCELED = "canceled"
    #: Refused for good, or retries spent.
    FAILED = "failed"
    #: A worker died mid-send: it may or may not have reached the provider. Ops decide.
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset(
    {
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.UNDELIVERED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.SKIPPED,
        DeliveryStatus.CANCELED,
        DeliveryStatus.FAILED,
    }
)
#: States a stop or suppression can still prevent.
PENDING_STATES = (DeliveryStatus.SCHEDULED, DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)


class EnrollmentStatus(StrEnum):
    """Where a contact's run through one sequence stands."""

    #: Deliveries go out as they fall due.
    ACTIVE = "active"
    #: The prospect wrote back; held until the clinic resumes or stops it.
    PAUSED = "paused"
    #: Stopped (booked, unsubscribed, by ops); pending deliveries were skipped.
    STOPPED = "stopped"
    #: Every delivery reached a terminal state.
    COMPLETED = "completed"


class Channel(StrEnum):
    """How a message travels."""

    EMAIL = "email"
    SMS = "sms"


def _enum(cls: type[Enum]) -> SAEnum:
    """Stored as its lowercase value in a VARCHAR, read back as the Enum member."""
    return SAEnum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


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
        _enum(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
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
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    template: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime]
    status: Mapped[DeliveryStatus] = mapped_column(
        _enum(DeliveryStatus), default=DeliveryStatus.SCHEDULED
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
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    address: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(Base):
    """The consent ledger: every opt-in and opt-out with its evidence, appended, never changed."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
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
