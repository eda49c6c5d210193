"""A clinic with a history, for tests that walk every page: the dashboard's queue in every
state, and one prospect with everything a prospect's page can show.

`seed_clinic()` writes it all through the services the API and the worker use (in the test's
process, on the test's database), before the API server starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from nurture.config import get_settings
from nurture.content.links import make_unsubscribe_token
from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import Contact, Delivery, InboundMessage
from nurture.errors import PermanentSendError
from nurture.schedule import Catalog
from nurture.schedule.catalog import load_catalog
from nurture.send.staff import send_staff_messages
from nurture.steering.answers import queue_answer
from nurture.steering.consent import opt_out
from nurture.track.bookings import apply_booking_event
from nurture.track.email_inbound import apply_inbound_email
from nurture.track.events import BookingEvent, BookingKind, InboundEmail, InboundSms
from nurture.track.inbound import apply_inbound
from tests.conftest import midday_zone
from tests.helpers import enroll, send_context
from tests.ops_helpers import Seeded, ids_of, seed, send, tick

DANA_PHONE = "+16175550134"
DANA_EMAIL = "dana.reyes-whitfield@example.com"
DANA_SAID = (
    "It hurts on the outside of my right hip when I climb stairs or lie on that side at "
    "night. It started after I took up running again in the spring."
)
DANA_REPLY = "Thanks! Could I come in on Tuesday afternoon instead? Mornings are hard with work."
ANSWER = "Yes, Tuesday at 3 pm works. See you then! - Front desk"
#: What a browser sends: long, and without a space for a page to break it at.
USER_AGENT = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


@dataclass(frozen=True)
class Clinic:
    """Who is who in the seeded clinic."""

    queue: Seeded
    #: The prospect whose page shows everything: requests, deliveries in several states with
    #: their history, the consent ledger, a reply and its answer, a calendar booking.
    dana_id: int
    #: A prospect's signed unsubscribe link token (email), for the unsubscribe pages.
    unsubscribe_token: str


def seed_clinic() -> Clinic:
    """The queue of tests/ops_helpers.py, plus Dana (see `Clinic`)."""
    now = utcnow()
    zone = midday_zone(now - timedelta(hours=3))
    queue = seed(now, timezone=zone)
    catalog = load_catalog(get_settings().schedules_dir)
    dana = enroll(
        now - timedelta(minutes=20),
        first_name="Dana",
        last_name="Reyes-Whitfield",
        email=DANA_EMAIL,
        phone=DANA_PHONE,
        message=DANA_SAID,
        source="website",
        timezone=zone,
    )
    dana_id = int(dana["enrollment"]["contact_id"])
    _send_with_one_failure(ids_of(dana), now - timedelta(minutes=19))
    with session_scope() as s:
        apply_inbound(
            s,
            InboundSms(
                provider="twilio",
                message_id="SM" + "d" * 32,
                sender=DANA_PHONE,
                recipient="+16175550100",
                text=DANA_REPLY,
            ),
            catalog=catalog,
            now=now - timedelta(minutes=10),
        )
    with session_scope() as s:
        reply_id = s.scalars(select(InboundMessage.id).where(InboundMessage.contact_id == dana_id))
        queue_answer(
            s,
            next(iter(reply_id)),
            ANSWER,
            form_key="seeded-answer",
            clinic_tz=catalog.clinic.timezone,
            now=now - timedelta(minutes=8),
        )
    send_staff_messages(send_context(), clock=utcnow)
    with session_scope() as s:
        contact = s.get_one(Contact, dana_id)
        evidence = {"link": "unsubscribe", "one_click": False, "ip": "203.0.113.24"}
        opt_out(
            s,
            contact,
            Channel.EMAIL,
            source="link",
            evidence={**evidence, "user_agent": USER_AGENT},
            now=now - timedelta(minutes=5),
            catalog=catalog,
        )
        apply_booking_event(
            s,
            BookingEvent(
                provider="calendly",
                booking_id="https://api.calendly.com/scheduled_events/GBGBDCAADAEDCRZ2/invitees/AAAA",
                kind=BookingKind.BOOKED,
                email=None,
                phone=DANA_PHONE,
                starts_at=now + timedelta(days=2, hours=3),
            ),
            catalog=catalog,
            now=now - timedelta(minutes=2),
        )
    _stranger_writes(catalog, now)
    # Said no to emails and texts: nothing is sent, so Today asks the front desk to call.
    enroll(
        now - timedelta(minutes=40),
        first_name="Una",
        last_name="Okonkwo-Lindqvist",
        email="una.okonkwo@example.org",
        phone="+16175550177",
        consent_email=False,
        consent_sms=False,
        timezone=zone,
    )
    waiting = int(queue.waiting["enrollment"]["contact_id"])  # type: ignore[index]
    return Clinic(
        queue=queue,
        dana_id=dana_id,
        unsubscribe_token=make_unsubscribe_token(get_settings().secret_key, waiting, Channel.EMAIL),
    )


def _send_with_one_failure(ids: list[int], at: datetime) -> None:
    """Dana's messages due by `at` + 10 s go out through the outbox, but the last text,
    which her carrier refuses."""
    claimed = set(tick(at + timedelta(seconds=10)))
    with session_scope() as s:
        rows = [s.get_one(Delivery, i) for i in ids if i in claimed]
        texts = [d.id for d in rows if d.channel is Channel.SMS]
        ok = [d.id for d in rows if d.id != texts[-1]]
    send(ok, at + timedelta(seconds=10))
    refused = PermanentSendError(
        "Attempt to send to unsubscribed recipient: the number replied STOP to this sender "
        "earlier and the carrier blocks further messages until it replies START",
        provider="twilio",
        code="21610",
    )
    send(texts[-1:], at + timedelta(seconds=10), refused)


def _stranger_writes(catalog: Catalog, now: datetime) -> None:
    """An email from someone we do not know, with a long subject, waits in the inbox."""
    with session_scope() as s:
        apply_inbound_email(
            s,
            InboundEmail(
                message_key="e-stranger",
                sender="pat.oconnell-vasquez@example.net",
                recipients=("front@clinic-mail.example",),
                subject="Question about prices for a first visit and whether insurance covers it",
                text="How much is a first visit? Do you take Blue Cross?",
                automatic=False,
            ),
            catalog=catalog,
            secret="test-secret",
            domain="",
            public_url="https://nurture.test",
            now=now - timedelta(minutes=30),
        )
