"""Who is followed up and what is planned for them: a contact, their runs through
sequences, and each run's deliveries (the rows the dispatcher claims and the worker sends).

The three point at each other through relationships, so they share one module.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nurture.core.clock import utcnow
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.tables.base import Base
from nurture.db.types import enum_column


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
    #: Their data was erased: this row keeps only the id the consent ledger's facts point at.
    erased_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="contact")


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
