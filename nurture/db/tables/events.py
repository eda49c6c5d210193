"""What happened: a delivery's state changes and provider reports, the webhook events
already applied, and the periodic components' heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.db.tables.base import Base


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


class Heartbeat(Base):
    """Last sign of life of a periodic component (the scheduler's dispatcher tick)."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    at: Mapped[datetime]
