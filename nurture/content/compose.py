"""Composing a message: a step rendered for a prospect, then wrapped for its channel
(addresses, unsubscribe headers, opaque ids). The send path, previews and validation all
compose through a `Composer`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from nurture.config import Settings
from nurture.content.context import ContactView, StepChannel, build_context, links_for
from nurture.content.links import make_reply_address
from nurture.content.message import OutgoingMessage
from nurture.content.render import RenderedMessage, Renderer
from nurture.core.addressing import address_of
from nurture.core.states import Channel
from nurture.schedule import Catalog
from nurture.schedule.sequence import first_sms_step


@dataclass(frozen=True)
class Composer:
    """What composing a message needs besides the prospect: the renderer, the settings and
    the catalog of the moment. The send path, previews, test sends and validation all
    compose through one."""

    renderer: Renderer
    settings: Settings
    catalog: Catalog

    def render(
        self, target: StepChannel, contact: ContactView, delivery_id: int | None
    ) -> RenderedMessage:
        """Render one step for one channel; the first SMS step carries the opt-out line."""
        context = build_context(self.settings, self.catalog, target, contact, delivery_id)
        first_sms = target.step.id == first_sms_step(target.sequence)
        return self.renderer.render(
            target.step.template, target.channel, context, first_sms=first_sms
        )

    def sample(
        self, target: StepChannel, contact: ContactView, now: datetime
    ) -> tuple[RenderedMessage, OutgoingMessage]:
        """One step composed for a sample prospect as the send path would, belonging to no
        delivery (ids are 0): the rendered parts, and the message a provider would be
        handed. TemplateError when the step's files do not render."""
        rendered = self.render(target, contact, 0)
        message = envelope(
            settings=self.settings,
            catalog=self.catalog,
            delivery_id=0,
            enrollment_id=0,
            contact=contact,
            rendered=rendered,
            now=now,
            not_after=None,
        )
        return rendered, message


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
    to = address_of(contact, channel)
    email = channel is Channel.EMAIL
    # An SMS carries no unsubscribe link (STOP opts out): nothing to sign for it.
    unsubscribe = mailto = None
    if email:
        unsubscribe = links_for(settings, catalog, contact.id, channel, delivery_id)["unsubscribe"]
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
        reply_to=reply_to(settings, catalog, enrollment_id),
        unsubscribe_url=unsubscribe,
        unsubscribe_mailto=mailto,
        not_after=not_after,
        now=now,
        metadata={"delivery_id": str(delivery_id), "enrollment_id": str(enrollment_id)},
    )


def reply_to(settings: Settings, catalog: Catalog, enrollment_id: int) -> str | None:
    """Where a reply to an email goes: a signed address naming the enrollment at
    NURTURE_INBOUND_EMAIL_DOMAIN (Inbound Parse reads it), else the clinic's reply_to."""
    if settings.inbound_email_domain:
        return make_reply_address(settings.secret_key, enrollment_id, settings.inbound_email_domain)
    clinic = catalog.clinic
    return str(clinic.reply_to) if clinic.reply_to else None
