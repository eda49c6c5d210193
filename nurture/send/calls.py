"""How a batch's provider calls go out, and how their outcomes reach `outcome.record`.

- **in turn** (the provider answers within milliseconds: every call of the batch together
  would take under `IN_TURN_S`, by the channels' recent call times): in the batch's thread,
  one after another, which spares handing calls to threads and back; their outcomes are
  recorded together (`Recorder`) at the end of the batch, or once `IN_TURN_S` has passed.
- **at once** (the provider takes a while): each call on a thread of the process's call
  pool as soon as its delivery is taken (`AtOnce`), at most `AT_ONCE` in flight, so a batch
  takes about one call's time; outcomes returning within `GROUP_WAIT_S` of each other are
  recorded together.
"""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TYPE_CHECKING

import structlog

from nurture.channels.base import BaseChannel
from nurture.core.states import DeliveryStatus
from nurture.send.outcome import UNTAKEN, Outcome, Ready, bind_delivery, hand_over, record

if TYPE_CHECKING:
    from nurture.send.context import SendContext

log = structlog.get_logger(__name__)

#: A batch's calls are made in turn when all of them, at their channels' quickest recent
#: call times, would take less than this; else at once, on the call threads. A real provider
#: (100-300 ms a call) gets a batch's calls at once; one answering within a few milliseconds
#: gets them in turn, even when a busy host stretches its calls to 10-20 ms on average (they
#: wait for a core, or for the interpreter behind the process's other batches): handing each
#: call to a thread and back then costs more CPU than the calls' overlap saves (about 6%
#: more CPU a message in-process), and the host has no core to spare for the overlap.
IN_TURN_S = 0.25
#: ... and at their moving averages, less than this: a provider that answers some calls at
#: once but most slowly (quick refusals among slow answers) gets them at once.
IN_TURN_AVERAGE_S = 1.0

#: A batch's calls in flight at once, at most: the next delivery is taken when one in
#: flight has returned. A worker killed mid-batch strands at most this many calls per
#: thread, and a slow provider sees no more at once from one batch.
AT_ONCE = 10

#: After a call made at once returns, how long its outcome waits for more of the batch's
#: calls to return, so that they are recorded with one statement.
GROUP_WAIT_S = 0.005


def in_turn(channels: Iterable[BaseChannel]) -> bool:
    """Whether calls on `channels` (one item per call) are quicker made in turn: every
    channel's recent call time is known, together their quickest recent times stay under
    `IN_TURN_S` and their moving averages under `IN_TURN_AVERAGE_S`. Local channels cost
    nothing here."""
    quickest = average = 0.0
    for channel in channels:
        if channel.remote:
            latency_s, quickest_s = channel.latency_s, channel.quickest_s
            if latency_s is None or quickest_s is None:
                return False
            average += latency_s
            quickest += quickest_s
    return quickest < IN_TURN_S and average < IN_TURN_AVERAGE_S


class Recorder:
    """A batch's outcomes on their way to `record`, and the statuses they ended in.

    Outcomes of calls made in turn wait (`add`) until the batch ends or `IN_TURN_S` has
    passed since the first of them, so that they share a statement; `now` records at
    once. One delivery's error (a dropped connection, say) is kept (`kept`) so the others
    of the batch go on; the task raises the first at the end, and retries what it could
    not take.
    """

    def __init__(self, ctx: SendContext) -> None:
        self.ctx = ctx
        self.done: dict[int, DeliveryStatus | None] = {}
        self.errors: list[Exception] = []
        self._waiting: list[Outcome] = []
        self._since = 0.0

    @contextmanager
    def kept(self, delivery_id: int) -> Iterator[None]:
        """Log and keep an error of one delivery of the batch, and go on with the next."""
        try:
            yield
        except Exception as exc:
            log.exception("send.batch_error", delivery_id=delivery_id)
            self.errors.append(exc)

    def add(self, outcome: Outcome) -> None:
        if not self._waiting:
            self._since = time.monotonic()
        self._waiting.append(outcome)
        if time.monotonic() - self._since >= IN_TURN_S:
            self.flush()

    def flush(self) -> None:
        outcomes, self._waiting = self._waiting, []
        self.now(outcomes)

    def now(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        with self.kept(outcomes[0].delivery_id):
            changed = record(self.ctx, outcomes)
            for o in outcomes:
                # Not moved from `queued`: another run took it meanwhile, and has it.
                lost = o.delivery_id not in changed and o.leaving == UNTAKEN
                self.done[o.delivery_id] = None if lost else o.status


class AtOnce:
    """A batch's calls in flight on the call pool; each outcome recorded as it returns."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.calls: dict[Future[Outcome], Ready] = {}

    def room(self) -> None:
        """Wait until fewer than `AT_ONCE` calls are in flight."""
        while len(self.calls) >= AT_ONCE:
            self._settle()

    def submit(self, r: Ready) -> None:
        bind_delivery(r.delivery)  # the thread's copied context logs it
        run = contextvars.copy_context().run
        self.calls[call_pool().submit(run, hand_over, self.recorder.ctx, r)] = r

    def drain(self) -> None:
        while self.calls:
            self._settle()

    def _settle(self) -> None:
        """Wait for one call to return and record its outcome, with those of the calls
        returning within `GROUP_WAIT_S` of it (one statement)."""
        returned, pending = wait(self.calls, return_when=FIRST_COMPLETED)
        if pending:  # calls returning a moment later join this group's statement
            more, _ = wait(pending, timeout=GROUP_WAIT_S)
            returned |= more
        for future in returned:
            del self.calls[future]
        self.recorder.now([future.result() for future in returned])


#: Threads that make the batches' provider calls, one pool per process: a thread starts
#: only when none is idle, so a batch usually starts none.
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
