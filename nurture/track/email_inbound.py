"""Email replies, as SendGrid Inbound Parse posts them (multipart/form-data: `to`, `from`,
`subject`, `text`, `html`, `headers`, `envelope`, `charsets`, `SPF`, `dkim`, …).

- matched by the Reply-To token in the address it was sent to (`r-<id>-<mac>@domain`); an
  email to the inbound domain without a valid token (forged, for an unknown enrollment, or
  to the plain domain) is unmatched: stored for a person, nothing paused (a From header is
  easy to forge). Only an email that reached Parse at another address is matched by its
  sender's address.
- a person's reply pauses the prospect's sequences as a text does, is listed in the inbox,
  is forwarded to the clinic's own address, and staff are told (`steering/notify.py`)
- automatic answers (`Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`,
  `Precedence: bulk|auto_reply|junk|list`, an out-of-office subject) are recorded as `auto`:
  no pause, no notice, not shown as waiting
- once per Message-ID: SendGrid retries a post that failed
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.content.links import read_reply_address
from nurture.core.addressing import normalize_email
from nurture.core.inputs import load_json
from nurture.core.states import Channel
from nurture.core.text import clean_text, header_text
from nurture.db.tables import Contact, Enrollment, InboundMessage
from nurture.errors import InvalidAddressError, InvalidToken, InvalidValueError
from nurture.schedule.catalog import Catalog
from nurture.steering.notify import queue_reply_notices
from nurture.steering.replies import pause_for_reply
from nurture.track.events import InboundEmail
from nurture.track.once import record_once

log = structlog.get_logger(__name__)

PROVIDER = "sendgrid"
_AUTO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|"
    r"auto[- ]?response|away from (the )?office|on vacation|abwesenheit)",
    re.IGNORECASE,
)
_AUTO_PRECEDENCE = frozenset({"bulk", "auto_reply", "junk", "list"})


def is_automatic(headers: Mapping[str, str], subject: str) -> bool:
    """Whether an email is an automatic answer rather than a person writing (RFC 3834 and
    the headers and subjects mail systems use in practice)."""
    lower = {k.lower(): v.strip().lower() for k, v in headers.items()}
    if lower.get("auto-submitted", "no") not in ("", "no"):
        return True
    if "x-autoreply" in lower or "x-autorespond" in lower or "x-autoresponse" in lower:
        return True
    if lower.get("precedence", "") in _AUTO_PRECEDENCE:
        return True
    return bool(_AUTO_SUBJECT.match(subject or ""))


def parse_inbound_email(fields: Mapping[str, str]) -> InboundEmail:
    """Inbound Parse's form fields as one normalised event."""
    header_text = fields.get("headers", "")
    parsed = HeaderParser().parsestr(header_text)
    headers = {k: str(v) for k, v in parsed.items()}
    subject = fields.get("subject", "") or headers.get("Subject", "")
    sender = parseaddr(fields.get("from", "") or headers.get("From", ""))[1]
    recipients = [a for _, a in getaddresses([fields.get("to", ""), fields.get("cc", "")]) if a]
    try:
        envelope = load_json(fields.get("envelope") or "{}", "envelope")
    except InvalidValueError:
        envelope = None
    if isinstance(envelope, dict):
        to = envelope.get("to")
        recipients += [str(a) for a in (to if isinstance(to, list) else [to]) if a]
        sender = sender or str(envelope.get("from") or "")
    text = fields.get("text", "") or _strip_html(fields.get("html", ""))
    message_id = parsed.get("Message-ID", "").strip()
    basis = message_id or f"{sender}\n{subject}\n{text}"
    return InboundEmail(
        message_key="e" + hashlib.sha256(basis.encode()).hexdigest()[:56],
        sender=sender.strip(),
        recipients=tuple(dict.fromkeys(r.strip() for r in recipients)),
        subject=subject.strip(),
        text=text.strip(),
        automatic=is_automatic(headers, subject),
    )


def _strip_html(html: str) -> str:
    return re.sub(r"\s+\n", "\n", re.sub(r"<[^>]+>", " ", html)).strip()


def match_enrollment(
    session: Session, email: InboundEmail, *, secret: str, domain: str
) -> tuple[Enrollment | None, bool]:
    """The enrollment a Reply-To token among the recipients names, and whether the email
    was sent to the inbound domain at all (then only a valid token matches it)."""
    if not domain:
        return None, False
    ours = [a for a in email.recipients if a.lower().endswith("@" + domain.lower())]
    for address in ours:
        try:
            enrollment_id = read_reply_address(secret, address, domain)
        except InvalidToken:
            continue
        if enrollment_id is not None:
            found = session.get(Enrollment, enrollment_id)
            if found is not None:
                return found, True
    return None, bool(ours)


def apply_inbound_email(
    session: Session,
    email: InboundEmail,
    *,
    catalog: Catalog,
    secret: str,
    domain: str,
    public_url: str,
    now: datetime,
) -> str:
    """Record one email reply and act on it; what it was (`reply`, `auto`, `duplicate`)."""
    enrollment, to_domain = match_enrollment(session, email, secret=secret, domain=domain)
    contact: Contact | None = None
    if enrollment is not None:
        contact = session.get(Contact, enrollment.contact_id)
    elif not to_domain and email.sender:
        # Not to the inbound domain (Parse set up on another address): the sender's address.
        try:
            address = normalize_email(email.sender)
        except InvalidAddressError:
            address = email.sender.lower()
        contact = session.scalar(select(Contact).where(Contact.email == address))
    kind = "auto" if email.automatic else "reply"
    if not record_once(
        session,
        provider=PROVIDER,
        external_id=f"{PROVIDER}:inbound:{email.message_key}",
        kind=f"inbound_email_{kind}",
        now=now,
        contact_id=contact.id if contact else None,
    ):
        log.info("inbound_email.duplicate")
        return "duplicate"
    to_address = next((r for r in email.recipients if domain and r.lower().endswith(domain)), "")
    row = InboundMessage(
        provider=PROVIDER,
        provider_message_id=email.message_key,
        contact_id=contact.id if contact else None,
        enrollment_id=enrollment.id if enrollment else None,
        channel=Channel.EMAIL,
        from_address=email.sender[:320],
        to_address=(to_address or (email.recipients[0] if email.recipients else ""))[:320],
        # Shown to staff: without characters that reorder or hide text (`core/text.py`).
        subject=header_text(email.subject)[:300] or None,
        body=clean_text(email.text, multiline=True),
        kind=kind,
        received_at=now,
        handled_at=now if email.automatic else None,
    )
    session.add(row)
    session.flush()
    if kind == "reply":
        if contact is not None:
            pause_for_reply(session, contact, catalog=catalog, now=now)
        queue_reply_notices(
            session,
            row,
            contact,
            clinic=catalog.clinic,
            public_url=public_url,
            inbound_domain=domain,
            now=now,
        )
    log.info(
        "inbound_email.applied",
        kind=kind,
        known=contact is not None,
        by="token" if enrollment is not None else ("sender" if contact else "none"),
        reply_id=row.id,
    )
    return kind
