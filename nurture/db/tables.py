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
    false,
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
        # A prospect's deliveries, and the last one sent before a reply, opt-out or booking
        # (the results report's attribution): one backward index scan each.
        Index("ix_deliveries_contact_sent", "contact_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: No index of its own: uq_deliveries_step starts with it.
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id"))
    #: No index of its own: ix_deliveries_contact_sent starts with it.
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
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
    __table_args__ = (
        # The results report counts booking-link clicks (source 'link') among millions of
        # state changes: this small partial index holds the clicks only.
        Index(
            "ix_delivery_events_link",
            "delivery_id",
            sqlite_where=text("source = 'link'"),
            postgresql_where=text("source = 'link'"),
        ),
    )

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
    # Evidence of a form's consent: the version of the wording shown (a hash of its text),
    # the page it was given on, and who gave it.
    wording_version: Mapped[str | None] = mapped_column(String(50))
    page_url: Mapped[str | None] = mapped_column(String(500))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(400))


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
    """A message a prospect sent the clinic (a text to its number, an email reply):
    keywords, and replies a person must read."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_messages_kind_received", "kind", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    #: Twilio's MessageSid; for an email, a digest of its Message-ID (retries dedupe on it).
    provider_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    #: The run the reply answers, when its Reply-To token says so (email).
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    channel: Mapped[Channel] = mapped_column(
        enum_column(Channel), default=Channel.SMS, server_default="sms"
    )
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: opt_out, opt_in, help, reply (a person wrote back: shown to the clinic), or auto (an
    #: automatic email answer: recorded, pauses nothing).
    kind: Mapped[str] = mapped_column(String(20))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the clinic marked the reply as dealt with.
    handled_at: Mapped[datetime | None]


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


class StaffMessage(Base):
    """A message that is not a step of a sequence: a notice to staff of a reply, an email
    reply forwarded to the clinic, or an answer typed on the inbox page.

    Sent by the worker (`send/staff.py`) at most once: `dedupe_key` makes each one once per
    reply and address (or per answer form), and a send is claimed (`pending → sending`)
    before the provider call. Its states change only in `steering/outgoing.py`.
    """

    __tablename__ = "staff_messages"
    __table_args__ = (Index("ix_staff_messages_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: notify | forward | answer
    kind: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"), index=True)
    #: The prospect an answer goes to (their history shows it); None for staff notices.
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    #: For a forward: the prospect's address, so the clinic's "reply" goes to them.
    reply_to: Mapped[str | None] = mapped_column(String(320))
    #: pending | sending | sent | failed | skipped | unknown
    status: Mapped[str] = mapped_column(String(20), default="pending")
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_expires_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    error_code: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Heartbeat(Base):
    """Last sign of life of a periodic component (the scheduler's dispatcher tick)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime]
