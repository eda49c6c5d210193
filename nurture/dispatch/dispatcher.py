"""One dispatcher run: the tick's claims commit first, then their send tasks are published."""

from __future__ import annotations

from datetime import timedelta

import structlog
from celery import Celery

from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.dispatch.queue import publish_sends
from nurture.dispatch.tick import dispatch_tick

log = structlog.get_logger(__name__)


def run_dispatcher(celery: Celery) -> int:
    """One dispatcher tick: the claim commits first, then the task messages go out.

    If this process dies between the two, the rows stay `queued` and are claimed again when
    their lease ends, so nothing is lost and the send CAS keeps it at most once.
    """
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        tick = dispatch_tick(
            session,
            now=now,
            batch=settings.dispatch_batch,
            lease=timedelta(seconds=settings.lease_s),
        )
    ids = tick.to_enqueue
    if ids:
        publish_sends(celery, ids, chunk=settings.send_chunk)
    if ids or tick.unknown:
        log.info(
            "dispatch.tick",
            claimed=len(tick.claimed),
            redispatched=len(tick.redispatched),
            unknown=len(tick.unknown),
        )
    return len(ids)
