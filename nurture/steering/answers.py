"""An answer to a reply, typed on the inbox page and sent by SMS.

The same rules as any text to a prospect: SMS consent, the suppression list and the SMS
quiet hours in the prospect's zone. Consent or suppression refuse the answer at once with
the reason (nothing is queued); quiet hours hold it to the next allowed time (it is queued,
due then, and the page says when it will go). The worker checks all three again just
before sending (`answer_verdict`), so an opt-out that came meanwhile still wins.

The answer is a staff message (`steering/outgoing.py`) with the prospect's id, so it is in
their history; once per form (`dedupe_key` from the form's one-time key), whatever the
browser resends. Its text is stored for the history and never logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.states import Channel
from nurture.core.zones import region_for_phone, resolve_timezone, zone
from nurture.db.tables import Contact, Enrollment, InboundMessage, Suppression
from nurture.errors import InvalidStateError, InvalidValueError, NotFoundError
from nurture.schedule.windows import next_send_at
from nurture.steering.outgoing import StaffDraft, queue_message

log = structlog.get_logger(__name__)

#: Twilio's limit for one message body (as `channels/base.MAX_SMS_CHARS`).
ANSWER_MAX_CHARS = 1600


@dataclass(frozen=True)
class Verdict:
    """Whether an answer may go to this prospect, and when."""

    #: Why it must not go at all (no_phone, no_consent, suppressed), or None.
    refused: str | None
    #: The first instant it may go (now, or the end of the quiet hours).
    opening: datetime
    tz: ZoneInfo
    region: str | None


@dataclass(frozen=True)
class Answered:
    message_id: int | None
    due_at: datetime
    held: bool
    local_due: str


REASONS = {
    "no_phone": "this prospect gave no phone number",
    "no_consent": "this prospect has not agreed to texts (or withdrew their consent)",
    "suppressed": "this number is on the do-not-text list (it opted out or cannot receive texts)",
}


def answer_verdict(session: Session, contact: Contact, *, clinic_tz: str, now: datetime) -> Verdict:
    """Consent, suppression and the SMS quiet hours for an answer to `contact` now."""
    latest = session.scalars(
        select(Enrollment)
        .where(Enrollment.contact_id == contact.id)
        .order_by(Enrollment.started_at.desc(), Enrollment.id.desc())
        .limit(1)
    ).first()
    if latest is not None:
        tz, region = zone(latest.timezone), latest.region
    else:
        tz = resolve_timezone(contact.timezone, contact.phone, clinic_tz)
        region = region_for_phone(contact.phone)
    opening = next_send_at(now, tz=tz, window=None, channel=Channel.SMS.value, region=region)
    refused = None
    if not contact.phone:
        refused = "no_phone"
    elif not contact.consent_sms:
        refused = "no_consent"
    elif session.scalar(
        select(Suppression.id).where(
            Suppression.channel == Channel.SMS, Suppression.address == contact.phone
        )
    ):
        refused = "suppressed"
    return Verdict(refused, opening, tz, region)


def queue_answer(
    session: Session,
    reply_id: int,
    text: str,
    *,
    form_key: str,
    clinic_tz: str,
    now: datetime,
) -> Answered:
    """Queue an SMS answer to the prospect who wrote reply `reply_id`, and mark the reply
    handled. InvalidValueError for an empty or too long text, InvalidStateError (with the
    reason a person can act on) when the prospect may not be texted."""
    text = text.strip()
    if not text:
        raise InvalidValueError("the answer is empty: type what to send")
    if len(text) > ANSWER_MAX_CHARS:
        raise InvalidValueError(
            f"the answer has {len(text)} characters; a text may have at most {ANSWER_MAX_CHARS}"
        )
    reply = session.get(InboundMessage, reply_id)
    if reply is None or reply.kind not in ("reply", "auto"):
        raise NotFoundError(f"no reply {reply_id}")
    contact = session.get(Contact, reply.contact_id) if reply.contact_id else None
    if contact is None:
        raise InvalidStateError(
            "this reply is from someone we do not know: answer them from your own phone or mailbox"
        )
    verdict = answer_verdict(session, contact, clinic_tz=clinic_tz, now=now)
    if verdict.refused is not None:
        raise InvalidStateError(f"Not sent: {REASONS[verdict.refused]}.")
    assert contact.phone is not None
    message_id = queue_message(
        session,
        StaffDraft(
            kind="answer",
            dedupe_key=f"answer:{form_key}",
            channel=Channel.SMS,
            address=contact.phone,
            body=text,
            reply_id=reply.id,
            contact_id=contact.id,
        ),
        now=now,
        due_at=verdict.opening,
    )
    reply.handled_at = reply.handled_at or now
    held = verdict.opening > now
    log.info("replies.answer_queued", reply_id=reply.id, held=held, new=message_id is not None)
    local = verdict.opening.astimezone(verdict.tz)
    return Answered(message_id, verdict.opening, held, f"{local:%a %H:%M} ({verdict.tz.key})")
