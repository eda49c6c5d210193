"""Consent: the ledger of every opt-in and opt-out, and the addresses never to message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.db.tables.base import Base
from nurture.db.types import enum_column


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


class ErasedAddress(Base):
    """An address whose owner's data was erased: kept only as a keyed hash (HMAC with the
    secret key), so a new request from it is never contacted, and when one last came."""

    __tablename__ = "erased_addresses"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: A request from this address after the erasure (accepted, nothing sent): the latest.
    requested_at: Mapped[datetime | None]
    requests: Mapped[int] = mapped_column(Integer, default=0)
