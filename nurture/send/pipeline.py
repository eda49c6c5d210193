"""Sending deliveries, top to bottom: **load → decide → take → record**.

1. **load** the batch's `queued` deliveries, with what their checks read, in one query
   (`load.py`); a delivery in any other state is another run's, or settled: None.
2. **decide** each with one pure verdict (`verdict.py`): go, skip with a reason, or hold
   until its window opens. What goes is rendered (`render.py`); what does not is recorded
   at once, leaving `queued`, so it never overwrites another run's take.
3. **take** each right before its own provider call (`take.py`): the compare-and-set
   `queued → sending` with the stop, consent and suppression checks in its WHERE, our
   at-most-once guarantee. A worker killed mid-batch leaves `sending` only the calls in
   flight. With a rate limit each first waits for its slot (`ratelimit.py`); the calls go
   out in turn or at once on the call threads (`calls.py`).
4. **record** every outcome through `outcome.record`, grouped into one statement.

A delivery whose take is not won was changed since it was read (stopped, booked, its
address edited) or taken by another run: it goes round again, read afresh, and is
decided on what is read then. A single delivery is a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from nurture.core.states import DeliveryStatus
from nurture.db.connections import batch_connection
from nurture.errors import TemplateError
from nurture.send.calls import AtOnce, Recorder, in_turn
from nurture.send.context import SendContext
from nurture.send.load import load_queued
from nurture.send.outcome import UNTAKEN, Outcome, Ready, bind_delivery, hand_over
from nurture.send.render import compose
from nurture.send.take import take_one, take_together
from nurture.send.taken import Taken
from nurture.send.verdict import Go, Hold, Skip, Verdict, verdict

#: How many times a batch's deliveries whose take was not won are read and decided again.
#: A second reading settles every change a take can refuse; the third is for a change
#: racing the second.
ROUNDS = 3


def send_delivery(ctx: SendContext, delivery_id: int, *, now: datetime) -> DeliveryStatus | None:
    """Send one delivery, a batch of one; its status, or None if another run had it."""
    [status] = send_deliveries(ctx, [delivery_id], clock=lambda: now)
    return status


def send_deliveries(
    ctx: SendContext, delivery_ids: list[int], *, clock: Callable[[], datetime]
) -> list[DeliveryStatus | None]:
    """Send a batch of deliveries; the status each ended in (None: another run had it).

    One delivery's error (a dropped connection) does not strand the rest of the batch: the
    first is raised at the end, so the task retries what it could not take.
    """
    recorder = Recorder(ctx)
    with batch_connection(ctx.engine):
        pending = list(delivery_ids)
        for _ in range(ROUNDS):
            if not pending:
                break
            rows = load_queued(ctx, pending)
            ready = decide(ctx, rows.values(), clock(), recorder)
            pending = take_and_call(ctx, ready, clock, recorder)
    if recorder.errors:
        raise recorder.errors[0]
    return [recorder.done.get(i) for i in delivery_ids]


def decide(
    ctx: SendContext, rows: Iterable[Taken], now: datetime, recorder: Recorder
) -> list[Ready]:
    """Each loaded delivery's verdict at `now`: those that go, rendered; the others'
    outcomes (skipped, held, a template that fails to render) recorded with one statement."""
    ready: list[Ready] = []
    parked: list[Outcome] = []
    for c in rows:
        with recorder.kept(c.delivery.id):
            v = verdict(c, now, ctx)
            if isinstance(v, Go):
                go = _render(ctx, c, now)
                if isinstance(go, Ready):
                    ready.append(go)
                else:
                    parked.append(go)
            else:
                parked.append(untaken(c, v, now))
    recorder.now(parked)
    return ready


def take_and_call(
    ctx: SendContext, ready: list[Ready], clock: Callable[[], datetime], recorder: Recorder
) -> list[int]:
    """Take each delivery right before its provider call and make the calls, recording
    each outcome; the ids whose take was not won (for another round)."""
    lost: list[int] = []
    throttled = ctx.throttle is not None
    # Local calls (the outbox) take no time: taken together (one statement on PostgreSQL).
    local = [] if throttled else [r for r in ready if not r.channel.remote]
    won_local = take_together(ctx, [(r.row, r.message.body_sha256) for r in local], clock())
    local_ids = {r.delivery.id for r in local}
    one_by_one = throttled or in_turn(r.channel for r in ready)
    at_once = AtOnce(recorder)
    for decided in ready:
        i = decided.delivery.id
        with recorder.kept(i):
            bind_delivery(decided.delivery)
            r = _wait_turn(ctx, decided, recorder) if throttled else decided
            if r is None:
                continue
            if i in local_ids:
                won = i in won_local
            else:
                at_once.room()
                won = take_one(ctx, r.row, r.now, r.message.body_sha256)
            if not won:
                lost.append(i)
            elif r.channel.remote and not (one_by_one and in_turn([r.channel])):
                at_once.submit(r)
            else:
                recorder.add(hand_over(ctx, r))
    recorder.flush()
    at_once.drain()
    return lost


def untaken(c: Taken, v: Verdict, now: datetime) -> Outcome:
    """The outcome of a delivery that does not go (skipped, or held until `v.until`)."""
    if isinstance(v, Skip):
        return Outcome(
            c.delivery.id,
            DeliveryStatus.SKIPPED,
            now,
            code=v.reason,
            log_ctx=_log_ctx(c),
            leaving=UNTAKEN,
        )
    assert isinstance(v, Hold)
    return Outcome(
        c.delivery.id,
        DeliveryStatus.SCHEDULED,
        now,
        code=v.code,
        due_at=v.until,
        log_ctx=_log_ctx(c),
        leaving=UNTAKEN,
    )


def _render(ctx: SendContext, c: Taken, now: datetime) -> Ready | Outcome:
    """A delivery that goes, rendered; a template that fails makes it `failed` (nothing
    went out: ops fix the template and `nurture retry` it)."""
    try:
        message = compose(ctx, c, now)
    except TemplateError as exc:
        return Outcome(
            c.delivery.id,
            DeliveryStatus.FAILED,
            now,
            code="template_error",
            detail=str(exc)[:500],
            log_ctx=_log_ctx(c),
            leaving=UNTAKEN,
        )
    return Ready(c, message, ctx.channels[c.delivery.channel], now, _log_ctx(c))


def _wait_turn(ctx: SendContext, r: Ready, recorder: Recorder) -> Ready | None:
    """Wait for the channel's rate slot (its take follows); None when the delivery was
    held instead: its slot is far off, or its verdict changed while it waited."""
    assert ctx.throttle is not None
    turn = ctx.throttle.wait_turn(r.delivery.channel)
    if turn.retry_in_s is not None:
        due_at = r.now + timedelta(seconds=turn.retry_in_s)
        recorder.now([untaken(r.row, Hold("rate_limited", due_at), r.now)])
        return None
    if not turn.waited_s:
        return r
    now = r.now + timedelta(seconds=turn.waited_s)
    # A stop that came meanwhile fails the take; a window that closed meanwhile holds it.
    v = verdict(r.row, now, ctx)
    if not isinstance(v, Go):
        recorder.now([untaken(r.row, v, now)])
        return None
    return replace(r, message=replace(r.message, now=now), now=now)


def _log_ctx(c: Taken) -> dict[str, str | int]:
    d = c.delivery
    return {"enrollment_id": d.enrollment_id, "step": d.step_id, "channel": d.channel.value}
