"""Sending deliveries: take each, check it may go, compose it, hand it to its channel,
record how it ended.

The take is a compare-and-set `queued → sending` (`take.py`): of any number of task messages
for one delivery (redeliveries, duplicates, a re-dispatch after a lost message) exactly one
wins, and the stop, suppression, consent and window checks commit with it (`checks.py`), so
a stop that committed first is always seen. How a send ends is `outcome.py`. Only ambiguous
outcomes leave a delivery `unknown`; nothing re-sends an `unknown` delivery by itself.
"""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

import structlog

from nurture.channels.base import SendResult
from nurture.content.compose import envelope, render_step
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel, DeliveryStatus
from nurture.core.zones import zone
from nurture.db.connections import batch_connection
from nurture.errors import TemplateError
from nurture.schedule.windows import quiet_hours_end
from nurture.send.checks import may_send, park
from nurture.send.context import SendContext
from nurture.send.outcome import Outcome, Ready, bind_delivery, finish, hand_over
from nurture.send.take import load, preload, take, take_many
from nurture.send.taken import Taken

log = structlog.get_logger(__name__)


def send_deliveries(
    ctx: SendContext, delivery_ids: list[int], *, clock: Callable[[], datetime]
) -> list[DeliveryStatus | None]:
    """Send several deliveries, each as `send_delivery` would.

    They are read ahead together and those that may go as read are taken together; each
    is then checked and rendered, and the provider calls are made at once (channels that
    wait on the network, no rate limit), so a batch takes about one provider call, not one
    per delivery. A single delivery is not read ahead: the full take costs fewer round
    trips then.
    """
    if len(delivery_ids) == 1:
        return [send_delivery(ctx, delivery_ids[0], now=clock())]
    ahead = preload(ctx, delivery_ids)
    with batch_connection(ctx.engine):
        now = clock()
        won = take_many(ctx, list(ahead.values()), now)

        # One delivery's error (a dropped connection, say) must not strand the others the
        # batch has taken: each goes on, and the first error is raised at the end, so that
        # the task retries what it could not take.
        errors: list[Exception] = []

        def prepare(i: int) -> Ready | DeliveryStatus | None:
            with _kept(errors, i):
                return _prepare(ctx, i, now, ahead[i]) if i in won else _prepare(ctx, i, clock())
            return None

        if ctx.throttle is not None:  # each waits for its own rate slot, then goes
            statuses = [_go(ctx, prepare(i)) for i in delivery_ids]
        else:
            prepared = [prepare(i) for i in delivery_ids]
            done = _hand_over_all(ctx, [p for p in prepared if isinstance(p, Ready)], errors)
            statuses = [done.get(p.delivery.id) if isinstance(p, Ready) else p for p in prepared]
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
    ctx: SendContext, ready: list[Ready], errors: list[Exception]
) -> dict[int, DeliveryStatus]:
    """The provider calls of a batch and their outcomes, by delivery id.

    Calls over the network start together (on the process's call threads) and outcomes are
    recorded as soon as their calls return: those that return within `GROUP_WAIT_S` of
    each other together, in one statement. So a worker killed mid-batch leaves only the
    calls still in flight `unknown`. Local calls (the outbox) are made in turn and recorded
    together.
    """
    remote = [r for r in ready if r.channel.remote]
    if len(remote) < 2:
        remote = []
    done: dict[int, DeliveryStatus] = {}
    if remote:
        pool = call_pool()
        calls: dict[Future[SendResult], Ready] = {}
        for r in remote:
            bind_delivery(r.delivery)  # the copied context carries the delivery's log fields
            run = contextvars.copy_context().run
            calls[pool.submit(run, r.channel.send, r.message)] = r
        pending: set[Future[SendResult]] = set(calls)
        while pending:
            returned, pending = wait(pending, return_when=FIRST_COMPLETED)
            if pending:  # calls returning a moment later join this group's statement
                more, pending = wait(pending, timeout=GROUP_WAIT_S)
                returned |= more
            pairs = _pairs(returned, calls)
            with _kept(errors, pairs[0][1].delivery.id):
                outcomes = [hand_over(ctx, r, call.result) for call, r in pairs]
                statuses = finish(ctx, outcomes)
                done.update(zip((o.delivery_id for o in outcomes), statuses, strict=True))
        local = [r for r in ready if not r.channel.remote]
    else:
        local = ready
    outcomes = [hand_over(ctx, r, partial(r.channel.send, r.message)) for r in local]
    with _kept(errors, outcomes[0].delivery_id if outcomes else 0):
        done.update(zip((o.delivery_id for o in outcomes), finish(ctx, outcomes), strict=True))
    return done


def _pairs(
    returned: set[Future[SendResult]], calls: dict[Future[SendResult], Ready]
) -> list[tuple[Future[SendResult], Ready]]:
    """The returned calls with their deliveries, in the batch's order."""
    return [(call, r) for call, r in calls.items() if call in returned]


#: After a batch's call returns, how long the outcome waits for more of the batch's calls
#: to return, so that they are recorded with one statement: a few milliseconds against
#: the database round trip (and commit) per outcome it saves.
GROUP_WAIT_S = 0.005

#: Threads that make a batch's provider calls, shared by the batches of a process: a thread
#: is started only when none is idle, so the common case starts none (a new pool per batch
#: started ten threads for every ten messages).
_CALL_THREADS = 256
_call_pool: ThreadPoolExecutor | None = None
_call_pool_lock = threading.Lock()


def call_pool() -> ThreadPoolExecutor:
    """This process's provider-call threads, started on first use."""
    global _call_pool
    with _call_pool_lock:
        if _call_pool is None:
            _call_pool = ThreadPoolExecutor(_CALL_THREADS, thread_name_prefix="nurture-call")
        return _call_pool


def _forget_call_pool() -> None:
    # A forked child has none of its parent's threads: it starts its own pool.
    global _call_pool, _call_pool_lock
    _call_pool, _call_pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_call_pool)


def send_delivery(
    ctx: SendContext, delivery_id: int, *, now: datetime, preloaded: Taken | None = None
) -> DeliveryStatus | None:
    """Send one delivery if this call wins it; the status it ended in, or None if another did.

    `preloaded` (from `take.preload`) lets a delivery that may go be taken with one
    statement; any other case takes the long way, which skips, holds or loses it.
    """
    if preloaded is not None and take_many(ctx, [preloaded], now):
        return _go(ctx, _prepare(ctx, delivery_id, now, preloaded))
    return _go(ctx, _prepare(ctx, delivery_id, now))


def _go(ctx: SendContext, prepared: Ready | DeliveryStatus | None) -> DeliveryStatus | None:
    """Hand a prepared delivery to its provider now; anything else is already its answer."""
    if not isinstance(prepared, Ready):
        return prepared
    call = partial(prepared.channel.send, prepared.message)
    return finish(ctx, [hand_over(ctx, prepared, call)])[0]


def _prepare(
    ctx: SendContext, delivery_id: int, now: datetime, taken: Taken | None = None
) -> Ready | DeliveryStatus | None:
    """Take (unless `taken` was won already), check, render and wait for the rate slot;
    what is left is the provider call.

    Anything but `Ready` is the delivery's final word from here (skipped, held, failed
    to render, handed back by the rate limit), or None when another call took it first.
    """
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
    if taken is None:
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

    if ctx.throttle is not None:
        verdict, now = _take_turn(ctx, taken, now)
        if verdict is not None:
            return verdict
        message = replace(message, now=now)
    return Ready(delivery, message, ctx.channels[delivery.channel], now, log_ctx)


def compose(ctx: SendContext, c: Taken, now: datetime) -> OutgoingMessage:
    """The message for one taken delivery, rendered now; TemplateError if it cannot be."""
    delivery, enrollment = c.delivery, c.enrollment
    if c.sequence is None or c.step is None:
        raise TemplateError(
            f"step {delivery.step_id!r} of sequence "
            f"{enrollment.sequence_id!r} is no longer in the schedule files"
        )
    rendered = render_step(
        ctx.renderer,
        settings=ctx.settings,
        catalog=ctx.catalog,
        sequence=c.sequence,
        step=c.step,
        channel=delivery.channel,
        contact=c.contact,
        delivery_id=delivery.id,
    )
    not_after = None
    if delivery.channel is Channel.SMS:
        not_after = quiet_hours_end(now, zone(enrollment.timezone), enrollment.region)
    return envelope(
        settings=ctx.settings,
        catalog=ctx.catalog,
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
