"""Messages outside the sequences: what prospects send the clinic, and what goes to staff
(notices, forwards, answers typed on the inbox page)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.db.tables.base import Base
from nurture.db.types import enum_column


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
