"""Texts prospects send to the clinic's number: keywords, and replies a person must read.

- opt-out keywords (STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT): consent
  ledger entry, SMS suppressed, every pending SMS skipped, one confirmation
- START, YES, UNSTOP: opted back in, one confirmation
- HELP, INFO: one reply with the clinic's name and phone, nothing else changes
- anything else: a person wrote back; their sequence pauses (or stops, for a sequence that
  `stop_on: [replied]`) and the text is listed for the clinic

Keywords match the whole text in any case, surrounding spaces ignored. Each inbound message
is handled once, by its MessageSid: Twilio retries a webhook that did not answer in time.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.config import get_settings
from nurture.core.states import Channel
from nurture.core.text import clean_text
from nurture.db.tables import Contact, InboundMessage
from nurture.schedule.catalog import Catalog
from nurture.steering.consent import OPT_OUT, add_suppression, lift_opt_out, opt_in, opt_out
from nurture.steering.notify import queue_reply_notices
from nurture.steering.replies import pause_for_reply
from nurture.track.events import InboundSms
from nurture.track.once import record_once

log = structlog.get_logger(__name__)

OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})


class InboundKind(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    #: A person wrote back: shown to the clinic.
    REPLY = "reply"


def classify(text: str) -> InboundKind:
    """Which keyword a text is, if it is one: the whole text, any case, with spaces and a final
    full stop or exclamation mark ignored ("Stop!" is an opt-out; "stop by Friday" a reply)."""
    word = text.strip().rstrip(".!").strip().upper()
    if word in OPT_OUT_KEYWORDS:
        return InboundKind.OPT_OUT
    if word in OPT_IN_KEYWORDS:
        return InboundKind.OPT_IN
    if word in HELP_KEYWORDS:
        return InboundKind.HELP
    return InboundKind.REPLY


def confirmation(kind: InboundKind, catalog: Catalog) -> str | None:
    """The one reply a keyword gets; None for a person's reply (the clinic answers it)."""
    clinic = catalog.clinic
    if kind is InboundKind.OPT_OUT:
        return (
            f"{clinic.name}: you are unsubscribed and will get no more texts from us. "
            "Reply START to resubscribe."
        )
    if kind is InboundKind.OPT_IN:
        return (
            f"{clinic.name}: you are subscribed to our texts again. "
            "Reply STOP to opt out, HELP for help."
        )
    if kind is InboundKind.HELP:
        return f"{clinic.name}: call us at {clinic.phone}. Reply STOP to opt out."
    return None


def apply_inbound(
    session: Session,
    message: InboundSms,
    *,
    catalog: Catalog,
    now: datetime,
    public_url: str | None = None,
) -> str | None:
    """Handle one inbound text; the reply to send back, or None (also for a retry).

    A person's reply also queues one notice per staff address (`clinic.yaml: notify`),
    linking to the inbox under `public_url` (default NURTURE_PUBLIC_URL)."""
    # A keyword with an invisible character in it (`STOP\u200b`) is still the keyword.
    kind = classify(clean_text(message.text, multiline=True))
    contact = session.scalar(select(Contact).where(Contact.phone == message.sender))
    if not record_once(
        session,
        provider=message.provider,
        external_id=f"{message.provider}:inbound:{message.message_id}",
        kind=f"inbound_{kind.value}",
        now=now,
        contact_id=contact.id if contact else None,
    ):
        log.info("inbound.duplicate", provider=message.provider, kind=kind.value)
        return None
    row = InboundMessage(
        provider=message.provider,
        provider_message_id=message.message_id,
        contact_id=contact.id if contact else None,
        channel=Channel.SMS,
        from_address=message.sender[:320],
        to_address=message.recipient[:320],
        # Shown to staff: without characters that reorder or hide text (`core/text.py`).
        body=clean_text(message.text, multiline=True),
        kind=kind.value,
        received_at=now,
    )
    session.add(row)
    evidence = {"keyword": message.text.strip().upper(), "message_sid": message.message_id}
    if kind is InboundKind.OPT_OUT:
        if contact is not None:
            opt_out(
                session,
                contact,
                Channel.SMS,
                source="keyword",
                evidence=evidence,
                now=now,
                catalog=catalog,
            )
        else:
            add_suppression(
                session, Channel.SMS, message.sender, reason=OPT_OUT, source="keyword", now=now
            )
    elif kind is InboundKind.OPT_IN:
        if contact is not None:
            opt_in(session, contact, Channel.SMS, source="keyword", evidence=evidence, now=now)
        else:
            lift_opt_out(session, Channel.SMS, message.sender)
    elif kind is InboundKind.REPLY:
        if contact is not None:
            pause_for_reply(session, contact, catalog=catalog, now=now)
        session.flush()
        settings = get_settings()
        queue_reply_notices(
            session,
            row,
            contact,
            clinic=catalog.clinic,
            public_url=public_url or settings.public_url,
            inbound_domain=settings.inbound_email_domain,
            now=now,
        )
    log.info("inbound.applied", provider=message.provider, kind=kind.value, known=bool(contact))
    return confirmation(kind, catalog)
