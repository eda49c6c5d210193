"""A delivery a worker holds (or is about to take), with what sending it needs and what its
checks read: the enrollment, what templates may know of the prospect, the step, the
current consent and suppression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from nurture.content.context import ContactView
from nurture.core.addressing import address_of, per_channel
from nurture.db.tables import Contact, Delivery, Enrollment
from nurture.schedule import Sequence, Step

if TYPE_CHECKING:
    from nurture.send.context import SendContext


@dataclass
class Taken:
    """A delivery this worker holds (or is about to take), with what sending it needs."""

    delivery: Delivery
    enrollment: Enrollment
    contact: ContactView
    sequence: Sequence | None
    step: Step | None
    #: The contact's current consent on the delivery's channel.
    consent: bool
    #: The delivery's address is on the channel's suppression list.
    suppressed: bool

    @property
    def address(self) -> str | None:
        return address_of(self.contact, self.delivery.channel)


def contact_view(contact: Contact, *, concern: str | None, timezone: str) -> ContactView:
    """What templates may know of a contact row: only what the prospect gave us."""
    return ContactView(
        id=contact.id,
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        phone=contact.phone,
        concern=concern,
        booked=contact.booked_at is not None,
        timezone=timezone,
    )


def taken(
    ctx: SendContext,
    delivery: Delivery,
    enrollment: Enrollment,
    contact: Contact,
    concern: str | None,
    suppressed: bool,
) -> Taken:
    sequence = ctx.catalog.sequences.get(enrollment.sequence_id)
    step = None
    if sequence is not None:
        step = next((s for s in sequence.steps if s.id == delivery.step_id), None)
    view = contact_view(contact, concern=concern, timezone=enrollment.timezone)
    consent = per_channel(delivery.channel, contact.consent_email, contact.consent_sms)
    return Taken(delivery, enrollment, view, sequence, step, bool(consent), suppressed)
