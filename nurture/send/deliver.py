"""Sending one delivery: take it, check it may go, compose it, hand it to its channel,
record how it ended.

The take is a compare-and-set `queued → sending` (`take.py`): of any number of task messages
for one delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one
wins, and the stop, suppression, consent and window checks commit with it (`checks.py`), so
a stop that committed first is always seen. A delivery is taken right before its provider
call, recording the hash of its message. How a send ends is `outcome.py`. Only ambiguous
outcomes leave a delivery `unknown`; reconciliation (`reconcile.py`) asks the provider about
those, and nothing else re-sends one. A batch of deliveries goes through `batch.py`, which
uses the steps here.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

import structlog

from nurture.content.compose import Composer, envelope
from nurture.content.context import StepChannel
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel, DeliveryStatus
from nurture.core.zones import zone
from nurture.errors import TemplateError
from nurture.schedule.windows import quiet_hours_end
from nurture.send.checks import may_send, park
from nurture.send.context import SendContext
from nurture.send.outcome import Outcome, Ready, bind_delivery, finish, hand_over
from nurture.send.take import load, may_go_as_read, record_hash, take, take_one
from nurture.send.taken import Taken

log = structlog.get_logger(__name__)


def render_ahead(ctx: SendContext, c: Taken, now: datetime) -> tuple[Taken, Ready] | None:
    """A preloaded delivery that may go as read, rendered but not taken yet; None when it
    must go the long way (it may not go, or its template fails: `prepare` settles it)."""
    if not may_go_as_read(ctx, c, now):
        return None
    try:
        message = compose(ctx, c, now)
    except TemplateError:
        return None
    d = c.delivery
    log_ctx: dict[str, str | int] = {
        "enrollment_id": d.enrollment_id,
        "step": d.step_id,
        "channel": d.channel.value,
    }
    return c, Ready(d, message, ctx.channels[d.channel], now, log_ctx)


def send_delivery(
    ctx: SendContext, delivery_id: int, *, now: datetime, preloaded: Taken | None = None
) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did.

    `preloaded` (from `take.preload`) lets a delivery that may go be rendered first and
    taken with one statement; any other case takes the long way, which skips, holds or
    loses it.
    """
    if preloaded is not None:
        ahead = render_ahead(ctx, preloaded, now)
        if ahead is not None and take_one(ctx, preloaded, now, ahead[1].message.body_sha256):
            return _go(ctx, _after_take(ctx, preloaded, ahead[1]))
    return _go(ctx, prepare(ctx, delivery_id, now))


def _go(ctx: SendContext, prepared: Ready | DeliveryStatus | None) -> DeliveryStatus | None:
    """Hand a prepared delivery to its provider now; anything else is already its answer."""
    if not isinstance(prepared, Ready):
        return prepared
    call = partial(prepared.channel.send, prepared.message)
    return finish(ctx, [hand_over(ctx, prepared, call)])[0]


def prepare(ctx: SendContext, delivery_id: int, now: datetime) -> Ready | DeliveryStatus | None:
    """The long way: take, check, render, record the message's hash and wait for the rate
    slot; what is left is the provider call.

    Anything but `Ready` is the delivery's final word from here (skipped, held, failed
    to render, handed back by the rate limit), or None when another call took it first.
    """
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
    with ctx.sessions.begin() as session:
        taken = take(session, ctx, delivery_id, now)
        if taken is None:
            log.info("send.lost_claim", delivery_id=delivery_id)
            return None
        verdict = may_send(session, ctx, taken, now)
        if verdict is not None:
            return verdict

    delivery = taken.delivery
    bind_delivery(delivery)
    log_ctx: dict[str, str | int] = {
        "enrollment_id": delivery.enrollment_id,
        "step": delivery.step_id,
        "channel": delivery.channel.value,
    }
    try:
        message = compose(ctx, taken, now)
    except TemplateError as exc:
        # Nothing went out; ops fix the template and `nurture retry` it.
        failed = Outcome(
            delivery_id,
            DeliveryStatus.FAILED,
            now,
            code="template_error",
            detail=str(exc)[:500],
            log_ctx=log_ctx,
        )
        return finish(ctx, [failed])[0]
    record_hash(ctx, delivery_id, message.body_sha256)
    ready = Ready(delivery, message, ctx.channels[delivery.channel], now, log_ctx)
    return _after_take(ctx, taken, ready)


def _after_take(ctx: SendContext, taken: Taken, ready: Ready) -> Ready | DeliveryStatus:
    """A taken, rendered delivery after its rate slot (when the channel has a limit)."""
    bind_delivery(ready.delivery)
    if ctx.throttle is None:
        return ready
    verdict, now = _take_turn(ctx, taken, ready.now)
    if verdict is not None:
        return verdict
    return replace(ready, message=replace(ready.message, now=now), now=now)


def compose(ctx: SendContext, c: Taken, now: datetime) -> OutgoingMessage:
    """The message for one taken delivery, rendered now; TemplateError if it cannot be."""
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


def _take_turn(ctx: SendContext, c: Taken, now: datetime) -> tuple[DeliveryStatus | None, datetime]:
    """Wait for the channel's rate slot; hand the delivery back when the slot is far off.

    After a wait, the checks run again: a stop that came meanwhile still wins.
    """
    assert ctx.throttle is not None
    turn = ctx.throttle.wait_turn(c.delivery.channel)
    if turn.retry_in_s is not None:
        with ctx.sessions.begin() as session:
            retry_at = now + timedelta(seconds=turn.retry_in_s)
            park(
                session,
                c.delivery,
                DeliveryStatus.SCHEDULED,
                now,
                code="rate_limited",
                due_at=retry_at,
            )
        log.info("send.rate_limited", retry_in_s=turn.retry_in_s)
        return DeliveryStatus.SCHEDULED, now
    if not turn.waited_s:
        return None, now
    now += timedelta(seconds=turn.waited_s)
    with ctx.sessions.begin() as session:
        return may_send(session, ctx, load(session, ctx, c.delivery.id), now), now
