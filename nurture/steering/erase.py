"""Erasing a prospect: their personal data leaves every table and the outbox folder, and
each of their addresses stays only as a keyed hash so that nobody contacts them again.

What stays is what the law needs: the consent ledger's facts (channel, opt-in or opt-out,
source, time, wording version), on an empty contact row (`erased_at`). A later request from
an erased address is accepted but nothing is scheduled: `erased_earlier` counts it, and
staff see it on `/today`. Each function works in the caller's transaction and takes `now`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from nurture.core.addressing import email_identity, normalize_email, normalize_phone
from nurture.core.states import Channel
from nurture.db.tables import (
    BookingEvent,
    ConsentEvent,
    ConsultationRequest,
    Contact,
    Delivery,
    DeliveryEvent,
    Enrollment,
    ErasedAddress,
    InboundMessage,
    ProviderEvent,
    StaffMessage,
    Suppression,
)
from nurture.errors import InvalidAddressError


def address_digest(
    secret_key: str, channel: Channel, address: str, *, normalized: bool = False
) -> str:
    """The keyed hash (HMAC-SHA256 with SECRET_KEY) an erased address is kept as: of the
    mailbox behind an email, so `dana+again@` or a Gmail address with dots is the same one.

    `normalized`: `address` is already what `normalize_email` or `normalize_phone` made of
    it (a validated request's), so it is not parsed again: that parse was most of the cost.
    """
    normal = address if normalized else address.strip().lower()
    if not normalized:
        with contextlib.suppress(InvalidAddressError):
            normal = (
                normalize_email(address) if channel is Channel.EMAIL else normalize_phone(address)
            )
    if channel is Channel.EMAIL:
        normal = email_identity(normal)
    message = f"{channel.value}:{normal}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Erased:
    """What an erasure removed, and what it still has to remove outside the database."""

    contact_id: int
    deliveries: tuple[int, ...]
    #: The erased addresses, held only in memory to find the outbox files naming them.
    addresses: tuple[str, ...]

    def remove_files(self, outbox_dir: Path) -> int:
        """Delete the outbox files of their messages, and any other naming their addresses."""
        prefixes = tuple(f"{d:08d}-" for d in self.deliveries)
        needles = [a.encode() for a in self.addresses if a]
        removed = 0
        for folder in (outbox_dir / "email", outbox_dir / "sms"):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if not path.is_file():
                    continue
                named = path.name.startswith(prefixes) if prefixes else False
                if named or any(n in path.read_bytes() for n in needles):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


def erase_contact(session: Session, contact: Contact, *, secret_key: str, now: datetime) -> Erased:
    """Remove the prospect's personal data from every table; keep their addresses hashed."""
    cid = contact.id
    addresses = tuple(a for a in (contact.email, contact.phone) if a)
    deliveries = tuple(session.scalars(select(Delivery.id).where(Delivery.contact_id == cid)))
    replies = select(InboundMessage.id).where(
        or_(InboundMessage.contact_id == cid, InboundMessage.from_address.in_(addresses))
    )
    session.execute(delete(DeliveryEvent).where(DeliveryEvent.delivery_id.in_(deliveries)))
    session.execute(
        delete(ProviderEvent).where(
            or_(ProviderEvent.contact_id == cid, ProviderEvent.delivery_id.in_(deliveries))
        )
    )
    session.execute(
        delete(StaffMessage).where(
            or_(
                StaffMessage.contact_id == cid,
                StaffMessage.reply_id.in_(replies),
                StaffMessage.address.in_(addresses),
            )
        )
    )
    session.execute(delete(InboundMessage).where(InboundMessage.id.in_(replies)))
    session.execute(delete(Delivery).where(Delivery.contact_id == cid))
    session.execute(
        delete(BookingEvent).where(
            or_(
                BookingEvent.contact_id == cid,
                BookingEvent.email.in_(addresses),
                BookingEvent.phone.in_(addresses),
            )
        )
    )
    session.execute(delete(Enrollment).where(Enrollment.contact_id == cid))
    session.execute(delete(ConsultationRequest).where(ConsultationRequest.contact_id == cid))
    session.execute(delete(Suppression).where(Suppression.address.in_(addresses)))
    # The ledger keeps the fact and time of each consent and opt-out, not who or from where.
    session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.contact_id == cid)
        .values(evidence={}, page_url=None, ip=None, user_agent=None)
    )
    for channel, address in ((Channel.EMAIL, contact.email), (Channel.SMS, contact.phone)):
        if address:
            _remember(session, address_digest(secret_key, channel, address), channel, now)
    contact.email = contact.phone = contact.last_name = contact.timezone = None
    contact.first_name = ""
    contact.consent_email = contact.consent_sms = False
    contact.erased_at = now
    session.flush()
    return Erased(cid, deliveries, addresses)


def _remember(session: Session, digest: str, channel: Channel, now: datetime) -> None:
    if session.scalar(select(ErasedAddress.id).where(ErasedAddress.digest == digest)) is None:
        session.add(ErasedAddress(channel=channel, digest=digest, erased_at=now, requests=0))


def erased_earlier(
    session: Session, *, secret_key: str, email: str | None, phone: str | None, now: datetime
) -> bool:
    """Whether either address was erased before; if so the request is counted (no data kept)."""
    digests = [
        address_digest(secret_key, channel, address)
        for channel, address in ((Channel.EMAIL, email), (Channel.SMS, phone))
        if address
    ]
    if not digests:
        return False
    rows = list(session.scalars(select(ErasedAddress).where(ErasedAddress.digest.in_(digests))))
    for row in rows:
        row.requested_at = now
        row.requests += 1
    return bool(rows)


def requests_from_erased(session: Session, *, since: datetime) -> list[ErasedAddress]:
    """Erased addresses that asked again since `since`, latest first."""
    return list(
        session.scalars(
            select(ErasedAddress)
            .where(ErasedAddress.requested_at >= since)
            .order_by(ErasedAddress.requested_at.desc())
        )
    )
