"""Sending a batch of deliveries, each as `deliver.send_delivery` would, with the batch's
provider calls made at once on the process's call threads or in turn.

A batch is read ahead together and rendered; each delivery is then taken right before its
own provider call, so a worker killed mid-batch leaves `sending` only the calls truly in
flight. Outcomes of calls returning close together are recorded with one statement.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import datetime
from functools import partial

import structlog

from nurture.channels.base import BaseChannel, SendResult
from nurture.core.states import DeliveryStatus
from nurture.db.connections import batch_connection
from nurture.send.context import SendContext
from nurture.send.deliver import prepare, render_ahead, send_delivery
from nurture.send.outcome import Outcome, Ready, bind_delivery, finish, hand_over
from nurture.send.take import preload, take_one, take_together
from nurture.send.taken import Taken

log = structlog.get_logger(__name__)


def send_deliveries(
    ctx: SendContext, delivery_ids: list[int], *, clock: Callable[[], datetime]
) -> list[DeliveryStatus | None]:
    """Send several deliveries, each as `send_delivery` would.

    They are read ahead together and rendered; each is then taken (`take_one`, one short
    UPDATE) right before its own provider call starts, so a worker killed mid-batch leaves
    `sending` only the calls truly in flight. Calls over the network go out at once on the
    process's call threads (a batch takes about one provider call, not one per delivery),
    or in turn when the provider answers within milliseconds (`_send_each`). With a rate
    limit each is taken and sent in turn, as `send_delivery` does.
    A single delivery is read ahead too: the read and the take that records its message's
    hash cost two round trips, the long way three.
    """
    if len(delivery_ids) == 1:
        [only] = delivery_ids
        ahead = preload(ctx, delivery_ids)
        return [send_delivery(ctx, only, now=clock(), preloaded=ahead.get(only))]
    # One delivery's error (a dropped connection, say) must not strand the others of the
    # batch: each goes on, and the first error is raised at the end, so that the task
    # retries what it could not take.
    errors: list[Exception] = []
    with batch_connection(ctx.engine):
        ahead = preload(ctx, delivery_ids)
        if ctx.throttle is not None:  # each waits for its own rate slot, then goes
            statuses: list[DeliveryStatus | None] = []
            for i in delivery_ids:
                status = None
                with _kept(errors, i):
                    status = send_delivery(ctx, i, now=clock(), preloaded=ahead.get(i))
                statuses.append(status)
        else:
            now = clock()
            rendered = {i: render_ahead(ctx, c, now) for i, c in ahead.items()}
            done = _send_each(ctx, delivery_ids, rendered, now, clock, errors)
            statuses = [done.get(i) for i in delivery_ids]
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


def _send_each(
    ctx: SendContext,
    delivery_ids: list[int],
    rendered: dict[int, tuple[Taken, Ready] | None],
    now: datetime,
    clock: Callable[[], datetime],
    errors: list[Exception],
) -> dict[int, DeliveryStatus | None]:
    """Take each rendered delivery right before its own call, make the calls; the statuses.

    Each delivery is taken (`take_one`, one short UPDATE) right before its provider call
    starts, so a worker killed mid-batch leaves `sending` only the calls truly in flight.
    Calls over the network then go out one of two ways:
    - **at once** (the provider takes a while to answer): each on a thread of the
      process's call pool as soon as taken, so a batch takes about one call's time;
    - **in turn** (every call of the batch together would take under `IN_TURN_S`, by the
      channels' recent call times): in this thread, one after another, which spares
      handing calls to threads and back. A channel that slows down meanwhile sends the
      rest of the batch's calls at once.
    At most `AT_ONCE` calls of a batch are in flight: the next delivery is taken when one
    returns. Local calls (the outbox) take no time: taken together, made in turn. Outcomes
    of calls made at once are recorded as soon as they return, those within `GROUP_WAIT_S` of each
    other with one statement; outcomes of calls made in turn with one statement at the end
    of the batch (or every `IN_TURN_S`, should the calls slow down). What was not won goes
    the long way.
    """
    done: dict[int, DeliveryStatus | None] = {}
    calls: dict[Future[SendResult], Ready] = {}
    made = _Made(ctx, done, errors)
    ready = [r for _, r in filter(None, rendered.values())]
    one_by_one = in_turn(r.channel for r in ready)
    # Local calls take no time: those are taken together (one statement on PostgreSQL).
    local = [
        (c, r.message.body_sha256)
        for c, r in filter(None, rendered.values())
        if not r.channel.remote
    ]
    won_local: set[int] = set()
    with _kept(errors, local[0][0].delivery.id if local else 0):
        won_local = take_together(ctx, local, now)
    pool = call_pool()
    for i in delivery_ids:
        while len(calls) >= AT_ONCE:  # the next is taken once a call in flight returns
            _settle(ctx, calls, done, errors)
        with _kept(errors, i):
            ahead = rendered.get(i)
            prepared: Ready | DeliveryStatus | None = None
            if ahead is not None:
                c, r = ahead
                if i in won_local or (
                    r.channel.remote and take_one(ctx, c, r.now, r.message.body_sha256)
                ):
                    prepared = r
            if prepared is None:
                prepared = prepare(ctx, i, clock())  # the long way
            if not isinstance(prepared, Ready):
                done[i] = prepared
            elif prepared.channel.remote and not (one_by_one and in_turn([prepared.channel])):
                bind_delivery(prepared.delivery)  # the thread's copied context logs it
                run = contextvars.copy_context().run
                calls[pool.submit(run, prepared.channel.send, prepared.message)] = prepared
            else:
                made.add(hand_over(ctx, prepared, partial(prepared.channel.send, prepared.message)))
    made.flush()
    while calls:
        _settle(ctx, calls, done, errors)
    return done


def _settle(
    ctx: SendContext,
    calls: dict[Future[SendResult], Ready],
    done: dict[int, DeliveryStatus | None],
    errors: list[Exception],
) -> None:
    """Wait for one of the calls in flight to return and record its outcome, with those of
    the calls returning within `GROUP_WAIT_S` of it (one statement); they leave `calls`."""
    returned, pending = wait(calls, return_when=FIRST_COMPLETED)
    if pending:  # calls returning a moment later join this group's statement
        more, _ = wait(pending, timeout=GROUP_WAIT_S)
        returned |= more
    group = [(future, r) for future, r in calls.items() if future in returned]
    for future, _ in group:
        del calls[future]
    with _kept(errors, group[0][1].delivery.id):
        outcomes = [hand_over(ctx, r, future.result) for future, r in group]
        statuses = finish(ctx, outcomes)
        done.update(zip((o.delivery_id for o in outcomes), statuses, strict=True))


class _Made:
    """Outcomes of calls made in turn: recorded together at the end of the batch, or once
    `IN_TURN_S` has passed since the first of them, so that the calls share a statement
    (a round trip and its CPU per outcome saved) and none waits long to be recorded."""

    def __init__(
        self, ctx: SendContext, done: dict[int, DeliveryStatus | None], errors: list[Exception]
    ) -> None:
        self.ctx, self.done, self.errors = ctx, done, errors
        self.outcomes: list[Outcome] = []
        self.since = 0.0

    def add(self, outcome: Outcome) -> None:
        if not self.outcomes:
            self.since = time.monotonic()
        self.outcomes.append(outcome)
        if time.monotonic() - self.since >= IN_TURN_S:
            self.flush()

    def flush(self) -> None:
        outcomes, self.outcomes = self.outcomes, []
        if outcomes:
            with _kept(self.errors, outcomes[0].delivery_id):
                statuses = finish(self.ctx, outcomes)
                self.done.update(zip((o.delivery_id for o in outcomes), statuses, strict=True))


#: A batch's calls are made in turn when all of them, at their channels' recent call times,
#: would take less than this; else at once, on the call threads. A real provider (100-300 ms
#: a call) gets a batch's ten calls at once; one answering within a few milliseconds gets
#: them in turn, even when a busy host stretches each call to 10-20 ms: handing each call to
#: a thread and back then costs more CPU than the calls' overlap saves.
IN_TURN_S = 0.25


def in_turn(channels: Iterable[BaseChannel]) -> bool:
    """Whether a batch's calls on `channels` (one item per call) are quicker made in turn:
    every channel's recent call time is known, and together they stay under `IN_TURN_S`.
    Local channels cost nothing here."""
    total = 0.0
    for channel in channels:
        if channel.remote:
            if channel.latency_s is None:
                return False
            total += channel.latency_s
    return total < IN_TURN_S


#: A batch's calls in flight at once, at most: with more deliveries than this (`SEND_CHUNK`
#: is 20), each of the rest is taken, and its call made, when one in flight has returned. A
#: worker killed mid-batch strands at most this many calls per thread, and a slow provider
#: sees no more at once from a batch than it did from the batches of 10 before.
AT_ONCE = 10

#: After a batch's call returns, how long its outcome waits for more of the batch's calls
#: to return, so that they are recorded with one statement: a few milliseconds against
#: the database round trip (and commit) per outcome it saves.
GROUP_WAIT_S = 0.005

#: Threads that make the batches' provider calls, one pool per process: a thread starts
#: only when none is idle, so a batch usually starts none (a pool per batch started ten
#: threads for every ten messages: 2 ms of CPU per message in the profile).
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
