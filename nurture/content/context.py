"""What a template sees: the prospect (only what they gave us), the clinic, the links, the
step and the sequence. A sample prospect stands in for previews and validation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nurture.config import Settings
from nurture.content.links import make_booking_token, make_unsubscribe_token
from nurture.core.states import Channel
from nurture.schedule import Catalog, Sequence, Step


@dataclass(frozen=True)
class ContactView:
    """What templates may know about a prospect: only what they gave us."""

    id: int
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    concern: str | None
    booked: bool
    timezone: str


SAMPLE_CONTACT = ContactView(
    id=0,
    first_name="Alex",
    last_name="Sample",
    email="alex@example.com",
    phone="+16175550123",
    concern="outer hip pain",
    booked=False,
    timezone="America/New_York",
)


def links_for(
    settings: Settings, catalog: Catalog, contact_id: int, channel: Channel, delivery_id: int | None
) -> dict[str, Any]:
    clinic = catalog.clinic
    base = settings.public_url
    unsubscribe = make_unsubscribe_token(settings.secret_key, contact_id, channel)
    booking = make_booking_token(settings.secret_key, contact_id, delivery_id)
    return {
        "unsubscribe": f"{base}/u/{unsubscribe}",
        "booking": f"{base}/b/{booking}",
        "phone_consultation": clinic.phone_consultation_url,
        "remote_evaluation": clinic.remote_evaluation_url,
        "website": clinic.website,
        "videos": dict(clinic.videos),
    }


@dataclass(frozen=True)
class StepChannel:
    """One message of a sequence: a step, on one of its channels."""

    sequence: Sequence
    step: Step
    channel: Channel


def build_context(
    settings: Settings,
    catalog: Catalog,
    target: StepChannel,
    contact: ContactView,
    delivery_id: int | None,
) -> dict[str, Any]:
    """The template context: contact, clinic, links, step, sequence."""
    sequence, step, channel = target.sequence, target.step, target.channel
    clinic = catalog.clinic.model_dump(mode="json")
    return {
        "contact": contact,
        "clinic": clinic,
        "links": links_for(settings, catalog, contact.id, channel, delivery_id),
        "step": {
            "id": step.id,
            "index": sequence.steps.index(step) + 1,
            "channel": channel.value,
            "description": step.description,
        },
        "sequence": {"id": sequence.id, "name": sequence.name},
    }
