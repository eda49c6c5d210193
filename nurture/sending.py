"""Sending one delivery: claim it, check it may go, render, hand it over, record the outcome.

The claim is a compare-and-set `queued → sending`: of any number of task messages for one
delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one wins. The
stop, suppression, consent and window checks commit with it, so a stop that committed first
is always seen (the queries are in `nurture.claims`). Only ambiguous outcomes leave a
delivery `unknown`; nothing re-sends an `unknown` delivery by itself.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from nurture.channels.base import BaseChannel, OutgoingMessage
from nurture.claims import Claimed, claim, claim_fast, may_send, preload
from nurture.config import Settings
from nurture.errors import (
    AmbiguousSendError,
    PermanentSendError,
    TemplateError,
    TransientSendError,
)
from nurture.messages import envelope, quiet_hours_end, render_step
from nurture.models import Channel, DeliveryStatus
from nurture.outcomes import batch_connection, record_outcome
from nurture.schedules import Catalog
from nurture.templates import Renderer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SendContext:
    """What a worker process holds for sending: settings, schedules, renderer, channels."""

    settings: Settings
    catalog: Catalog
    renderer: Renderer
    channels: dict[Channel, BaseChannel]
    sessions: sessionmaker[Session]


def compute_backoff(
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before attempt `attempt + 1`: exponential with full jitter, at least Retry-After."""
    rng = rng or random.Random()
    ceiling = min(max_s, base_s * (2 ** max(attempt - 1, 0)))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after_s is not None:
        delay = max(delay, retry_after_s)
    return float(min(delay, max(max_s, retry_after_s or 0)))


def send_deliveries(
    ctx: SendContext, delivery_ids: list[int], *, clock: Callable[[], datetime]
) -> list[DeliveryStatus | None]:
    """Send several deliveries in turn, each as `send_delivery` would (read ahead together).

    A single delivery is not read ahead: the full claim costs fewer round trips then.
    """
    if len(delivery_ids) == 1:
        return [send_delivery(ctx, delivery_ids[0], now=clock())]
    ahead = preload(ctx, delivery_ids)
    with batch_connection(ctx):
        return [send_delivery(ctx, i, now=clock(), preloaded=ahead.get(i)) for i in delivery_ids]


def send_delivery(
    ctx: SendContext, delivery_id: int, *, now: datetime, preloaded: Claimed | None = None
) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did.

    `preloaded` (from `claims.preload`) lets a delivery that may go be claimed with one
    statement; any other case takes the full claim, which skips, holds or loses it.
    """
    claimed = claim_fast(ctx, preloaded, now) if preloaded is not None else None
    if claimed is None:
        with ctx.sessions.begin() as session:
            claimed = claim(session, ctx, delivery_id, now)
            if claimed is None:
                log.info("send.lost_claim", delivery_id=delivery_id)
                return None
            verdict = may_send(session, ctx, claimed, now)
            if verdict is not None:
                return verdict

    delivery, _contact = claimed.delivery, claimed.contact
    log_ctx: dict[str, str | int] = {
        "enrollment_id": delivery.enrollment_id,
        "step": delivery.step_id,
        "channel": delivery.channel.value,
    }
    try:
        message = _compose(ctx, claimed, now)
    except TemplateError as exc:
        # Nothing went out; ops fix the template and `nurture retry` it.
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.FAILED,
            now,
            code="template_error",
            detail=str(exc)[:500],
            log_ctx=log_ctx,
        )

    channel = ctx.channels[delivery.channel]
    try:
        result = channel.send(message)
    except TransientSendError as exc:
        if delivery.attempts >= ctx.settings.send_max_attempts:
            return _finish(
                ctx,
                delivery_id,
                DeliveryStatus.FAILED,
                now,
                code=exc.code,
                detail=f"retries spent: {exc}",
                log_ctx=log_ctx,
            )
        wait_s = compute_backoff(
            delivery.attempts,
            base_s=ctx.settings.retry_base_s,
            max_s=ctx.settings.retry_max_s,
            retry_after_s=exc.retry_after_s,
        )
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.RETRYING,
            now,
            code=exc.code,
            detail=str(exc),
            due_at=now + timedelta(seconds=wait_s),
            log_ctx=log_ctx,
        )
    except PermanentSendError as exc:
        if exc.suppress:
            _suppress(
                ctx, delivery.channel, message.to, reason=f"{exc.provider}:{exc.code}", now=now
            )
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.FAILED,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except AmbiguousSendError as exc:
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.UNKNOWN,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except Exception as exc:
        # We cannot tell whether the provider got it: never guess, let ops decide.
        log.exception("send.crashed", delivery_id=delivery_id, **log_ctx)
        return _finish(
            ctx,
            delivery_id,
            DeliveryStatus.UNKNOWN,
            now,
            code="crash",
            detail=type(exc).__name__,
            log_ctx=log_ctx,
        )
    return _finish(
        ctx,
        delivery_id,
        DeliveryStatus.SENT,
        now,
        provider=result.provider,
        provider_message_id=result.message_id,
        log_ctx=log_ctx,
    )


def _compose(ctx: SendContext, c: Claimed, now: datetime) -> OutgoingMessage:
    if c.sequence is None or c.step is None:
        raise TemplateError(
            f"step {c.delivery.step_id!r} of sequence "
            f"{c.enrollment.sequence_id!r} is no longer in the schedule files"
        )
    rendered = render_step(
        ctx.renderer,
        settings=ctx.settings,
        catalog=ctx.catalog,
        sequence=c.sequence,
        step=c.step,
        channel=c.delivery.channel,
        contact=c.contact,
        delivery_id=c.delivery.id,
    )
    not_after = None
    if c.delivery.channel is Channel.SMS:
        not_after = quiet_hours_end(now, c.enrollment.timezone, c.enrollment.region)
    return envelope(
        settings=ctx.settings,
        catalog=ctx.catalog,
        delivery_id=c.delivery.id,
        enrollment_id=c.enrollment.id,
        contact=c.contact,
        rendered=rendered,
        now=now,
        not_after=not_after,
    )


def _finish(
    ctx: SendContext,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    code: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
    log_ctx: dict[str, str | int],
) -> DeliveryStatus:
    extra: dict[str, str | datetime | None] = {}
    if provider:
        extra = {"provider": provider, "provider_message_id": provider_message_id, "sent_at": now}
    # `unknown` too: if the lease ran out mid-send, the real outcome still wins.
    record_outcome(
        ctx, delivery_id, status, now, code=code, detail=detail, due_at=due_at, extra=extra
    )
    event = "send.sent" if status is DeliveryStatus.SENT else "send.finished"
    log.info(event, delivery_id=delivery_id, status=status.value, code=code, **log_ctx)
    return status


def _suppress(
    ctx: SendContext, channel: Channel, address: str, *, reason: str, now: datetime
) -> None:
    from nurture.control import add_suppression

    with ctx.sessions.begin() as session:
        add_suppression(session, channel, address, reason=reason, source="provider", now=now)
