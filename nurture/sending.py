"""Sending one delivery: claim it, check it may go, render, hand it over, record the outcome.

The claim is a compare-and-set `queued → sending`: of any number of task messages for one
delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one wins. The
stop, suppression, consent and window checks commit with it, so a stop that committed first
is always seen (the queries are in `nurture.claims`; outcomes are written by
`nurture.outcomes`). Only ambiguous outcomes leave a delivery `unknown`; nothing re-sends an
`unknown` delivery by itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

import structlog
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from nurture.backoff import compute_backoff
from nurture.channels.base import BaseChannel, OutgoingMessage, SendResult
from nurture.claims import Claimed, claim, claim_many, load, may_send, preload
from nurture.config import Settings
from nurture.consent import refuse_address
from nurture.errors import (
    AmbiguousSendError,
    PermanentSendError,
    TemplateError,
    TransientSendError,
)
from nurture.messages import compose_message
from nurture.models import Channel, Delivery, DeliveryStatus
from nurture.ops.metrics import record_send
from nurture.outcomes import Outcome, batch_connection, record_outcomes, set_status
from nurture.ratelimit import Throttle
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
    #: Per-channel rate limits (NURTURE_SMS_RATE / EMAIL_RATE); None when there are none.
    throttle: Throttle | None = None


@dataclass(frozen=True)
class _Ready:
    """A delivery claimed, checked and rendered, its rate slot taken: ready for its provider."""

    delivery: Delivery
    message: OutgoingMessage
    channel: BaseChannel
    now: datetime
    log_ctx: dict[str, str | int]


def send_deliveries(
    ctx: SendContext, delivery_ids: list[int], *, clock: Callable[[], datetime]
) -> list[DeliveryStatus | None]:
    """Send several deliveries, each as `send_delivery` would.

    They are read ahead together and those that may go as read are claimed together; each
    is then checked and rendered, and the provider calls are made at once (channels that
    wait on the network, no rate limit), so a batch takes about one provider call, not one
    per delivery. A single delivery is not read ahead: the full claim costs fewer round
    trips then.
    """
    if len(delivery_ids) == 1:
        return [send_delivery(ctx, delivery_ids[0], now=clock())]
    ahead = preload(ctx, delivery_ids)
    with batch_connection(ctx):
        now = clock()
        won = claim_many(ctx, list(ahead.values()), now)

        # One delivery's error (a dropped connection, say) must not strand the others the
        # batch has claimed: each goes on, and the first error is raised at the end, so that
        # the task retries what it could not claim.
        errors: list[Exception] = []

        def prepare(i: int) -> _Ready | DeliveryStatus | None:
            with _kept(errors, i):
                return _prepare(ctx, i, now, ahead[i]) if i in won else _prepare(ctx, i, clock())
            return None

        if ctx.throttle is not None:  # each waits for its own rate slot, then goes
            statuses = [_go(ctx, prepare(i)) for i in delivery_ids]
        else:
            prepared = [prepare(i) for i in delivery_ids]
            done = _hand_over_all(ctx, [p for p in prepared if isinstance(p, _Ready)], errors)
            statuses = [done.get(p.delivery.id) if isinstance(p, _Ready) else p for p in prepared]
    if errors:
        raise errors[0]
    return statuses


@contextmanager
def _kept(errors: list[Exception], delivery_id: int) -> Iterator[None]:
    """Log and keep an error of one delivery of a batch, and go on with the next."""
    try:
        yield
    except Exception as exc:
        log.exception("send.batch_error", delivery_id=delivery_id)
        errors.append(exc)


def _hand_over_all(
    ctx: SendContext, ready: list[_Ready], errors: list[Exception]
) -> dict[int, DeliveryStatus]:
    """The provider calls of a batch and their outcomes, by delivery id.

    Calls over the network start together (a thread each) and each outcome is recorded as
    soon as its call returns, so a worker killed mid-batch leaves only the calls still in
    flight `unknown`. Local calls (the outbox) are made in turn and recorded together.
    """
    remote = [r for r in ready if r.channel.remote]
    if len(remote) < 2:
        remote = []
    done: dict[int, DeliveryStatus] = {}
    if remote:
        with ThreadPoolExecutor(len(remote), thread_name_prefix="nurture-call") as pool:
            calls: dict[Future[SendResult], _Ready] = {}
            for r in remote:
                _bind(r.delivery)  # the copied context carries the delivery's log fields
                run = contextvars.copy_context().run
                calls[pool.submit(run, r.channel.send, r.message)] = r
            for call in as_completed(calls):
                r = calls[call]
                with _kept(errors, r.delivery.id):
                    [done[r.delivery.id]] = _finish(ctx, [_hand_over(ctx, r, call.result)])
        local = [r for r in ready if not r.channel.remote]
    else:
        local = ready
    outcomes = [_hand_over(ctx, r, partial(r.channel.send, r.message)) for r in local]
    with _kept(errors, outcomes[0].delivery_id if outcomes else 0):
        done.update(zip((o.delivery_id for o in outcomes), _finish(ctx, outcomes), strict=True))
    return done


def send_delivery(
    ctx: SendContext, delivery_id: int, *, now: datetime, preloaded: Claimed | None = None
) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did.

    `preloaded` (from `claims.preload`) lets a delivery that may go be claimed with one
    statement; any other case takes the full claim, which skips, holds or loses it.
    """
    if preloaded is not None and claim_many(ctx, [preloaded], now):
        return _go(ctx, _prepare(ctx, delivery_id, now, preloaded))
    return _go(ctx, _prepare(ctx, delivery_id, now))


def _go(ctx: SendContext, prepared: _Ready | DeliveryStatus | None) -> DeliveryStatus | None:
    """Hand a prepared delivery to its provider now; anything else is already its answer."""
    if not isinstance(prepared, _Ready):
        return prepared
    call = partial(prepared.channel.send, prepared.message)
    return _finish(ctx, [_hand_over(ctx, prepared, call)])[0]


def _prepare(
    ctx: SendContext, delivery_id: int, now: datetime, claimed: Claimed | None = None
) -> _Ready | DeliveryStatus | None:
    """Claim (unless `claimed` was won already), check, render and wait for the rate slot;
    what is left is the provider call.

    Anything but `_Ready` is the delivery's final word from here (skipped, held, failed
    to render, handed back by the rate limit), or None when another call won the claim.
    """
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
    if claimed is None:
        with ctx.sessions.begin() as session:
            claimed = claim(session, ctx, delivery_id, now)
            if claimed is None:
                log.info("send.lost_claim", delivery_id=delivery_id)
                return None
            verdict = may_send(session, ctx, claimed, now)
            if verdict is not None:
                return verdict

    delivery = claimed.delivery
    _bind(delivery)
    log_ctx: dict[str, str | int] = {
        "enrollment_id": delivery.enrollment_id,
        "step": delivery.step_id,
        "channel": delivery.channel.value,
    }
    try:
        message = compose_message(
            ctx.renderer,
            settings=ctx.settings,
            catalog=ctx.catalog,
            delivery=delivery,
            enrollment=claimed.enrollment,
            contact=claimed.contact,
            sequence=claimed.sequence,
            step=claimed.step,
            now=now,
        )
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
        return _finish(ctx, [failed])[0]

    if ctx.throttle is not None:
        verdict, now = _take_turn(ctx, claimed, now)
        if verdict is not None:
            return verdict
        message = replace(message, now=now)
    return _Ready(delivery, message, ctx.channels[delivery.channel], now, log_ctx)


def _hand_over(ctx: SendContext, r: _Ready, call: Callable[[], SendResult]) -> Outcome:
    """Make (or collect) the provider call; its outcome, to be recorded."""
    delivery, now, log_ctx = r.delivery, r.now, r.log_ctx
    _bind(delivery)
    try:
        result = call()
    except TransientSendError as exc:
        if delivery.attempts >= ctx.settings.send_max_attempts:
            return Outcome(
                delivery.id,
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
        return Outcome(
            delivery.id,
            DeliveryStatus.RETRYING,
            now,
            code=exc.code,
            detail=str(exc),
            due_at=now + timedelta(seconds=wait_s),
            log_ctx=log_ctx,
        )
    except PermanentSendError as exc:
        if exc.suppress:
            with ctx.sessions.begin() as session:
                refuse_address(session, delivery, r.message.to, exc, now=now)
        return Outcome(
            delivery.id,
            DeliveryStatus.FAILED,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except AmbiguousSendError as exc:
        return Outcome(
            delivery.id,
            DeliveryStatus.UNKNOWN,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except Exception as exc:
        # We cannot tell whether the provider got it: never guess, let ops decide.
        log.exception("send.crashed", **log_ctx)
        return Outcome(
            delivery.id,
            DeliveryStatus.UNKNOWN,
            now,
            code="crash",
            detail=type(exc).__name__,
            log_ctx=log_ctx,
        )
    return Outcome(
        delivery.id,
        DeliveryStatus.SENT,
        now,
        provider=result.provider,
        provider_message_id=result.message_id,
        log_ctx=log_ctx,
        lateness_s=(now - delivery.due_at).total_seconds(),
    )


def _bind(delivery: Delivery) -> None:
    """Every log line from here on names this delivery (and its enrollment)."""
    structlog.contextvars.bind_contextvars(
        delivery_id=delivery.id, enrollment_id=delivery.enrollment_id
    )


def _take_turn(
    ctx: SendContext, c: Claimed, now: datetime
) -> tuple[DeliveryStatus | None, datetime]:
    """Wait for the channel's rate slot; hand the delivery back when the slot is far off.

    After a wait, the checks run again: a stop that came meanwhile still wins.
    """
    assert ctx.throttle is not None
    turn = ctx.throttle.wait_turn(c.delivery.channel)
    if turn.retry_in_s is not None:
        with ctx.sessions.begin() as session:
            set_status(
                session,
                c.delivery.id,
                DeliveryStatus.SCHEDULED,
                now,
                code="rate_limited",
                due_at=now + timedelta(seconds=turn.retry_in_s),
                attempts=c.delivery.attempts - 1,
                from_states=(DeliveryStatus.SENDING,),
            )
        log.info("send.rate_limited", retry_in_s=turn.retry_in_s)
        return DeliveryStatus.SCHEDULED, now
    if not turn.waited_s:
        return None, now
    now += timedelta(seconds=turn.waited_s)
    with ctx.sessions.begin() as session:
        return may_send(session, ctx, load(session, ctx, c.delivery.id), now), now


def _finish(ctx: SendContext, outcomes: list[Outcome]) -> list[DeliveryStatus]:
    """Record outcomes (together), then log and count each; their statuses."""
    # `unknown` too: if the lease ran out mid-send, the real outcome still wins.
    changed = record_outcomes(ctx, outcomes)
    for o in outcomes:
        structlog.contextvars.bind_contextvars(delivery_id=o.delivery_id)
        if o.delivery_id not in changed and o.provider:
            # A delivery report got here first and moved the status on: keep the provider id.
            with ctx.sessions.begin() as session:
                session.execute(
                    update(Delivery)
                    .where(Delivery.id == o.delivery_id, Delivery.provider_message_id.is_(None))
                    .values(**o.extra)
                    .execution_options(synchronize_session=False)
                )
        event = "send.sent" if o.status is DeliveryStatus.SENT else "send.finished"
        log.info(event, status=o.status.value, code=o.code, **o.log_ctx)
        channel = Channel(str(o.log_ctx["channel"]))
        record_send(
            channel=channel.value,
            step=str(o.log_ctx["step"]),
            status=o.status,
            provider=o.provider or ctx.channels[channel].provider,
            code=o.code,
            lateness_s=o.lateness_s,
        )
    return [o.status for o in outcomes]
