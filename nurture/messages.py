"""Turning a delivery into a message: the template context, rendering, and the envelope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from nurture.channels.base import OutgoingMessage
from nurture.config import Settings
from nurture.errors import TemplateError
from nurture.links import make_booking_token, make_unsubscribe_token
from nurture.models import Channel, Contact, Delivery, Enrollment
from nurture.schedules import Catalog, Sequence, Step
from nurture.templates import RenderedMessage, Renderer


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


def contact_view(contact: Contact, *, concern: str | None, timezone: str) -> ContactView:
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


def build_context(
    *,
    settings: Settings,
    catalog: Catalog,
    sequence: Sequence,
    step: Step,
    channel: Channel,
    contact: ContactView,
    delivery_id: int | None,
) -> dict[str, Any]:
    """The template context of DESIGN.md: contact, clinic, links, step, sequence."""
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


def render_step(
    renderer: Renderer,
    *,
    settings: Settings,
    catalog: Catalog,
    sequence: Sequence,
    step: Step,
    channel: Channel,
    contact: ContactView,
    delivery_id: int | None,
) -> RenderedMessage:
    """Render one step for one channel; the first SMS step carries the opt-out line."""
    context = build_context(
        settings=settings,
        catalog=catalog,
        sequence=sequence,
        step=step,
        channel=channel,
        contact=contact,
        delivery_id=delivery_id,
    )
    first_sms = next((s.id for s in sequence.steps if Channel.SMS in s.channels), None)
    return renderer.render(step.template, channel, context, first_sms=step.id == first_sms)


def envelope(
    *,
    settings: Settings,
    catalog: Catalog,
    delivery_id: int,
    enrollment_id: int,
    contact: ContactView,
    rendered: RenderedMessage,
    now: datetime,
    not_after: datetime | None,
) -> OutgoingMessage:
    """Wrap a rendered message with its addresses, headers and opaque ids."""
    clinic = catalog.clinic
    channel = rendered.channel
    to = contact.email if channel is Channel.EMAIL else contact.phone
    links = links_for(settings, catalog, contact.id, channel, delivery_id)
    mailto = f"mailto:{clinic.reply_to or clinic.from_email}?subject={quote('unsubscribe')}"
    return OutgoingMessage(
        delivery_id=delivery_id,
        channel=channel,
        to=to or "",
        text=rendered.text,
        subject=rendered.subject,
        html=rendered.html,
        from_email=str(clinic.from_email),
        from_name=clinic.from_name,
        reply_to=str(clinic.reply_to) if clinic.reply_to else None,
        unsubscribe_url=links["unsubscribe"] if channel is Channel.EMAIL else None,
        unsubscribe_mailto=mailto if channel is Channel.EMAIL else None,
        not_after=not_after,
        now=now,
        metadata={"delivery_id": str(delivery_id), "enrollment_id": str(enrollment_id)},
    )


def compose_message(
    renderer: Renderer,
    *,
    settings: Settings,
    catalog: Catalog,
    delivery: Delivery,
    enrollment: Enrollment,
    contact: ContactView,
    sequence: Sequence | None,
    step: Step | None,
    now: datetime,
) -> OutgoingMessage:
    """The message for one claimed delivery, rendered now; TemplateError if it cannot be."""
    if sequence is None or step is None:
        raise TemplateError(
            f"step {delivery.step_id!r} of sequence "
            f"{enrollment.sequence_id!r} is no longer in the schedule files"
        )
    rendered = render_step(
        renderer,
        settings=settings,
        catalog=catalog,
        sequence=sequence,
        step=step,
        channel=delivery.channel,
        contact=contact,
        delivery_id=delivery.id,
    )
    not_after = None
    if delivery.channel is Channel.SMS:
        not_after = quiet_hours_end(now, enrollment.timezone, enrollment.region)
    return envelope(
        settings=settings,
        catalog=catalog,
        delivery_id=delivery.id,
        enrollment_id=enrollment.id,
        contact=contact,
        rendered=rendered,
        now=now,
        not_after=not_after,
    )


def quiet_hours_end(now: datetime, tz_name: str, region: str | None) -> datetime:
    """The end of today's SMS sending hours in the recipient's zone (for ValidityPeriod)."""
    from zoneinfo import ZoneInfo

    from nurture.timing import sms_quiet_hours

    tz = ZoneInfo(tz_name)
    _, end = sms_quiet_hours(region)
    local = now.astimezone(tz)
    closing = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if closing <= local:
        closing += timedelta(days=1)
    return closing.astimezone(now.tzinfo)
