"""The message of a delivery about to go, rendered at send time (a fixed typo reaches
everyone still waiting): the step's template for the channel, in its envelope."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from nurture.content.compose import Composer, envelope
from nurture.content.context import StepChannel
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel
from nurture.core.zones import zone
from nurture.errors import TemplateError
from nurture.schedule.windows import quiet_hours_end
from nurture.send.taken import Taken

if TYPE_CHECKING:
    from nurture.send.context import SendContext


def compose(ctx: SendContext, c: Taken, now: datetime) -> OutgoingMessage:
    """The message for one loaded delivery, rendered now; TemplateError if it cannot be."""
    delivery, enrollment = c.delivery, c.enrollment
    if c.sequence is None or c.step is None:
        raise TemplateError(
            f"step {delivery.step_id!r} of sequence "
            f"{enrollment.sequence_id!r} is no longer in the schedule files"
        )
    catalog = ctx.catalog
    target = StepChannel(c.sequence, c.step, delivery.channel)
    rendered = Composer(ctx.renderer, ctx.settings, catalog).render(target, c.contact, delivery.id)
    not_after = None
    if delivery.channel is Channel.SMS:
        not_after = quiet_hours_end(now, zone(enrollment.timezone), enrollment.region)
    return envelope(
        settings=ctx.settings,
        catalog=catalog,
        delivery_id=delivery.id,
        enrollment_id=enrollment.id,
        contact=c.contact,
        rendered=rendered,
        now=now,
        not_after=not_after,
    )
