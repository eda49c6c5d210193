"""Opting in and out, from any source: the ledger entry, the suppression, what stops with it.

Every opt-out (an SMS keyword, an unsubscribe link, a SendGrid unsubscribe or spam report, a
provider refusing an unsubscribed number) goes through `opt_out`, so each one is recorded with
its evidence, suppresses the address, and skips the channel's pending messages at once. Each
function works in the caller's transaction and takes `now`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from nurture.core.addressing import address_of, per_channel
from nurture.core.states import Channel
from nurture.db.tables import ConsentEvent, Contact, Delivery, Suppression
from nurture.db.upsert import insert_or_ignore
from nurture.errors import PermanentSendError
from nurture.schedule import Catalog
from nurture.steering.stop import StopResult, skip_pending, stop_contact

#: The suppression reason a later, explicit opt-in lifts (intake uses the same word).
OPT_OUT = "opt_out"


def opt_out(
    session: Session,
    contact: Contact,
    channel: Channel,
    *,
    source: str,
    evidence: dict[str, Any],
    now: datetime,
    catalog: Catalog | None = None,
    reason: str = OPT_OUT,
) -> StopResult | None:
    """The contact opts out of `channel`: ledger, suppression, its pending messages skipped.

    When no channel is left to reach them, the sequences that `stop_on: [unsubscribed]` stop
    (what that returns); otherwise the other channel goes on.
    """
    record_consent(
        session, contact, channel, granted=False, source=source, evidence=evidence, now=now
    )
    address = address_of(contact, channel)
    if address:
        add_suppression(session, channel, address, reason=reason, source=source, now=now)
    reachable = [c for c in Channel if address_of(contact, c) and _consents(contact, c)]
    if reachable or catalog is None:
        return None
    stopping = [s.id for s in catalog.sequences.values() if "unsubscribed" in s.stop_on]
    return stop_contact(session, contact, reason="unsubscribed", now=now, sequence_ids=stopping)


def opt_in(
    session: Session,
    contact: Contact,
    channel: Channel,
    *,
    source: str,
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    """The contact opts back in: ledger entry, and an earlier opt-out suppression is lifted.

    Messages skipped while they were opted out stay skipped; a dead-address suppression stays.
    """
    record_consent(
        session, contact, channel, granted=True, source=source, evidence=evidence, now=now
    )
    address = address_of(contact, channel)
    if address:
        lift_opt_out(session, channel, address)


def lift_opt_out(session: Session, channel: Channel, address: str) -> None:
    """Remove an opt-out suppression of `address` (not one that marks it unusable)."""
    session.execute(
        delete(Suppression).where(
            Suppression.channel == channel,
            Suppression.address == address,
            Suppression.reason == OPT_OUT,
        )
    )


def refuse_address(
    session: Session, delivery: Delivery, address: str, exc: PermanentSendError, *, now: datetime
) -> None:
    """A provider refused the address for good: mark it unusable, or record the opt-out it
    reports (Twilio 21610: the recipient unsubscribed from this sender)."""
    contact = session.get_one(Contact, delivery.contact_id)
    if exc.opt_out:
        evidence = {"provider": exc.provider, "code": exc.code, "delivery_id": delivery.id}
        opt_out(session, contact, delivery.channel, source="provider", evidence=evidence, now=now)
        return
    reason = f"unusable:{exc.provider}:{exc.code}"
    add_suppression(session, delivery.channel, address, reason=reason, source="provider", now=now)


def _consents(contact: Contact, channel: Channel) -> bool:
    return bool(per_channel(channel, contact.consent_email, contact.consent_sms))


def record_consent(
    session: Session,
    contact: Contact,
    channel: Channel,
    *,
    granted: bool,
    source: str,
    evidence: dict[str, Any],
    now: datetime,
) -> None:
    """Append to the consent ledger and update the contact's current consent."""
    session.add(
        ConsentEvent(
            contact_id=contact.id,
            channel=channel,
            action="opt_in" if granted else "opt_out",
            source=source,
            evidence=evidence,
            at=now,
        )
    )
    if channel is Channel.EMAIL:
        contact.consent_email = granted
    else:
        contact.consent_sms = granted


def add_suppression(
    session: Session, channel: Channel, address: str, *, reason: str, source: str, now: datetime
) -> None:
    """Never message `address` on `channel` again; pending deliveries to it are skipped."""
    insert_or_ignore(
        session,
        Suppression,
        {
            "channel": channel,
            "address": address,
            "reason": reason,
            "source": source,
            "created_at": now,
        },
        conflict=["channel", "address"],
    )
    column = per_channel(channel, Contact.email, Contact.phone)
    contact_ids = session.scalars(select(Contact.id).where(column == address)).all()
    for contact_id in contact_ids:
        skip_pending(session, now=now, reason="suppressed", contact_id=contact_id, channel=channel)
