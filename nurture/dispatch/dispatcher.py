"""One dispatcher run: the tick's claims commit first, then their send tasks are published;
what it claimed ahead of its due time is published when due (`nurture.dispatch.ahead`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from celery import Celery

from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.dispatch.ahead import look_ahead, publish_when_due
from nurture.dispatch.queue import publish_sends
from nurture.dispatch.tick import claim_until, dispatch_tick, split_due

log = structlog.get_logger(__name__)

#: Claims one run makes while each comes back full (`DISPATCH_BATCH` rows). One claim a
#: tick would cap the dispatcher at DISPATCH_BATCH deliveries per interval (500/s at the
#: production 1 s), below what two worker processes send; a few more keep up with them
#: without flooding the broker with a backlog the workers cannot reach within the lease.
ROUNDS = 4


def run_dispatcher(
    celery: Celery,
    *,
    interval_s: float | None = None,
    clock: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """One dispatcher tick: each claim commits first, then its task messages go out. It
    claims ahead what falls due before the next tick, `interval_s` later (default: this
    process's `DISPATCH_INTERVAL_S`), and publishes it when due.

    If this process dies between the two (or while it holds deliveries claimed ahead until
    they are due), the rows stay `queued` and are claimed again when their lease ends, so
    nothing is lost and the send CAS keeps it at most once.
    """
    settings = get_settings()
    lease = timedelta(seconds=settings.lease_s)
    ahead = look_ahead(settings.dispatch_interval_s if interval_s is None else interval_s)
    now = clock()
    with session_scope() as session:
        tick = dispatch_tick(
            session, now=now, batch=settings.dispatch_batch, lease=lease, ahead=ahead
        )
    ids = tick.to_enqueue
    if ids:
        publish_sends(celery, ids, chunk=settings.send_chunk)
    claimed, held = len(tick.claimed), list(tick.ahead)
    full = claimed + len(held) >= settings.dispatch_batch
    for _ in range(ROUNDS - 1):
        if not full:
            break
        now = clock()
        with session_scope() as session:
            rows = claim_until(
                session, now=now, until=now + ahead, limit=settings.dispatch_batch, lease=lease
            )
        due, later = split_due(rows, now)
        if due:
            publish_sends(celery, due, chunk=settings.send_chunk)
        claimed, held, full = claimed + len(due), held + later, len(rows) >= settings.dispatch_batch
    if held:
        held.sort(key=lambda r: (r[1], r[0]))
        publish_when_due(celery, held, chunk=settings.send_chunk, clock=clock, sleep=sleep)
    if claimed or held or tick.redispatched or tick.unknown:
        log.info(
            "dispatch.tick",
            claimed=claimed,
            ahead=len(held),
            redispatched=len(tick.redispatched),
            unknown=len(tick.unknown),
        )
    return claimed + len(tick.redispatched) + len(held)
