"""A new reply reaches a person: a notice to each staff address in `clinic.yaml: notify`,
and, for an email reply, the email itself forwarded to the clinic's own address.

A notice says who wrote (first name and a masked address) and links to the inbox; it never
carries the reply's text or any health detail. The forward carries the text (it goes to
the clinic's own mailbox, that is its purpose). Each is queued once per reply and address
(`steering/outgoing.py`) and sent by the worker, never in the webhook's request.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from nurture.core.states import Channel
from nurture.core.text import header_text
from nurture.db.tables import Contact, InboundMessage
from nurture.schedule.clinic import Clinic
from nurture.steering.outgoing import StaffDraft, queue_message

log = structlog.get_logger(__name__)


def mask_address(address: str) -> str:
    """An address shown in a notice: enough to tell prospects apart, not to reach them."""
    if "@" in address:
        local, _, domain = address.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"***{address[-4:]}" if len(address) > 4 else "***"


def inbox_link(public_url: str, reply_id: int) -> str:
    return f"{public_url.rstrip('/')}/ops/replies#reply-{reply_id}"


def notice_text(
    clinic: Clinic, reply: InboundMessage, contact: Contact | None, public_url: str
) -> str:
    """The notice: who replied, how, and the link. No text of the reply."""
    who = contact.first_name if contact is not None else "Someone we do not know"
    how = "by email" if reply.channel is Channel.EMAIL else "by text"
    return (
        f"{clinic.name}: {who} ({mask_address(reply.from_address)}) replied {how}. "
        f"Read and answer: {inbox_link(public_url, reply.id)}"
    )


def queue_reply_notices(
    session: Session,
    reply: InboundMessage,
    contact: Contact | None,
    *,
    clinic: Clinic,
    public_url: str,
    inbound_domain: str,
    now: datetime,
) -> int:
    """Queue the notices (and, for email, the forward) of one new reply; how many queued."""
    text = notice_text(clinic, reply, contact, public_url)
    first = contact.first_name if contact is not None else "someone we do not know"
    drafts = [
        StaffDraft(
            kind="notify",
            dedupe_key=f"notify:{reply.id}:email:{address.lower()}",
            channel=Channel.EMAIL,
            address=str(address),
            subject=header_text(f"New reply from {first}"),
            body=text,
            reply_id=reply.id,
        )
        for address in clinic.notify.email
    ] + [
        StaffDraft(
            kind="notify",
            dedupe_key=f"notify:{reply.id}:sms:{phone}",
            channel=Channel.SMS,
            address=phone,
            body=text,
            reply_id=reply.id,
        )
        for phone in clinic.notify.sms
    ]
    if reply.channel is Channel.EMAIL:
        forward = _forward(reply, contact, clinic, public_url, inbound_domain)
        if forward is not None:
            drafts.append(forward)
    queued = sum(queue_message(session, d, now=now) is not None for d in drafts)
    log.info("replies.notices_queued", reply_id=reply.id, queued=queued)
    return queued


def _forward(
    reply: InboundMessage,
    contact: Contact | None,
    clinic: Clinic,
    public_url: str,
    inbound_domain: str,
) -> StaffDraft | None:
    clinic_address = str(clinic.reply_to or clinic.from_email)
    if inbound_domain and clinic_address.lower().endswith("@" + inbound_domain.lower()):
        # Forwarding to the inbound domain would come straight back through Inbound Parse.
        log.warning("replies.forward_loop_refused", reply_id=reply.id)
        return None
    who = contact.first_name if contact is not None else "someone we do not know"
    body = (
        f"{who} <{reply.from_address}> replied to one of our emails.\n"
        f"Subject: {reply.subject or '(none)'}\n"
        f"In the inbox: {inbox_link(public_url, reply.id)}\n"
        "Answering this email writes to them directly.\n\n"
        f"{reply.body}"
    )
    return StaffDraft(
        kind="forward",
        dedupe_key=f"forward:{reply.id}",
        channel=Channel.EMAIL,
        address=clinic_address,
        # From the prospect's own text: one line (`core/text.py`), never a second header.
        subject=header_text(f"Reply from {who}: {reply.subject or '(no subject)'}")[:300],
        body=body,
        reply_to=reply.from_address,
        reply_id=reply.id,
        contact_id=contact.id if contact is not None else None,
    )


def queue_unreached_notices(
    session: Session,
    *,
    contact_id: int,
    request_id: int,
    clinic: Clinic,
    public_url: str,
    now: datetime,
) -> int:
    """A request that declined every channel gets no message: tell staff to call. The notice
    is a link only: no name, no address, nothing the prospect wrote."""
    link = f"{public_url.rstrip('/')}/ops/contacts/{contact_id}"
    text = (
        f"{clinic.name}: a new consultation request said no to emails and texts, so nothing "
        f"is sent to them. Call them: {link}"
    )
    drafts = [
        StaffDraft(
            kind="notify",
            dedupe_key=f"unreached:{request_id}:email:{address.lower()}",
            channel=Channel.EMAIL,
            address=str(address),
            subject="A new request to call (no messages allowed)",
            body=text,
            contact_id=contact_id,
        )
        for address in clinic.notify.email
    ] + [
        StaffDraft(
            kind="notify",
            dedupe_key=f"unreached:{request_id}:sms:{phone}",
            channel=Channel.SMS,
            address=phone,
            body=text,
            contact_id=contact_id,
        )
        for phone in clinic.notify.sms
    ]
    queued = sum(queue_message(session, d, now=now) is not None for d in drafts)
    log.info("intake.unreached_notices_queued", request_id=request_id, queued=queued)
    return queued
