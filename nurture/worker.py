"""The Celery tasks: `celery -A nurture.worker worker|beat`, or `nurture worker|scheduler`.

Only the tasks and the worker's signals live here; each task is a few lines that hand over
to a service: `nurture.send` sends, `nurture.dispatch` dispatches.
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import signals
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from nurture.config import get_settings, refuse_known_secrets
from nurture.content.live import keep_versions, live_catalog
from nurture.core.clock import utcnow
from nurture.core.keys import (
    DISPATCH_TASK,
    RECONCILE_TASK,
    SEND_BATCH_TASK,
    SEND_TASK,
    STAFF_TASK,
)
from nurture.core.states import DeliveryStatus
from nurture.db import reset_engines, session_scope
from nurture.db.catalog_versions import CatalogVersions
from nurture.db.migrate import check_at_start
from nurture.dispatch.dispatcher import run_dispatcher
from nurture.dispatch.heartbeat import WorkerHeartbeat
from nurture.dispatch.queue import create_app
from nurture.errors import ConfigError
from nurture.intake.pending import enroll_pending
from nurture.lifeline import follow_parent, watch
from nurture.logs import configure_logging
from nurture.send.context import forget_send_context, send_context
from nurture.send.pipeline import send_deliveries
from nurture.send.reconcile import reconcile
from nurture.send.staff import send_staff_messages

app = create_app()
log = structlog.get_logger(__name__)
# A worker started while the schedule files are broken sends from the last good version.
keep_versions(CatalogVersions())


@signals.celeryd_init.connect
@signals.beat_init.connect
def _refuse_known_secrets(**_: Any) -> None:
    # Before the worker or beat does anything: `celery -A nurture.worker` is a way in too.
    try:
        refuse_known_secrets(get_settings())
    except ConfigError as exc:
        raise SystemExit(f"error: {exc}") from None


@signals.worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    # A forked pool process must not share the parent's database connections.
    reset_engines(close=False)
    forget_send_context()


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    configure_logging(get_settings())


@signals.worker_init.connect
def _lifeline(**_: Any) -> None:
    watch()  # started by `nurture run` or `nurture worker`: end with it, even on SIGKILL


_heartbeat: list[WorkerHeartbeat] = []


@signals.worker_ready.connect
def _worker_started(**_: Any) -> None:
    check_at_start("worker")  # one line if the database lacks its migrations
    heartbeat = WorkerHeartbeat(clock=utcnow)  # counted by /readyz, /ops, `nurture status`
    heartbeat.start()
    _heartbeat.append(heartbeat)


@signals.worker_shutdown.connect
def _worker_stopping(**_: Any) -> None:
    while _heartbeat:
        _heartbeat.pop().stop()


@signals.beat_init.connect
def _scheduler_started(**_: Any) -> None:
    follow_parent()  # `--beat` in a supervised worker: end with that worker
    check_at_start("scheduler")


#: How a send task meets a database it cannot reach (refused, dropped, pool exhausted): it
#: runs again in 1, 2, 4… s (jittered, 5 times) instead of leaving its deliveries `queued`
#: until their lease ends. Safe at any point: the take lets one run send a delivery once.
SEND_RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError, PoolTimeout),
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 5,
}


@app.task(name=SEND_TASK, ignore_result=True, acks_late=True, **SEND_RETRY)
def send_task(delivery_id: int) -> str | None:
    """Send one delivery (a duplicate message for it does nothing)."""
    # Every log line of this send carries the delivery id (and, once loaded, the enrollment's).
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id)
    try:
        [status] = send_deliveries(send_context(), [delivery_id], clock=utcnow)
    finally:
        structlog.contextvars.clear_contextvars()
    return status.value if status else None


@app.task(name=SEND_BATCH_TASK, ignore_result=True, acks_late=True, **SEND_RETRY)
def send_batch_task(delivery_ids: list[int]) -> int:
    """Send several deliveries, each as `send_task` would; how many this call sent.

    A redelivered batch message is harmless: deliveries already sent lose their take.
    """
    structlog.contextvars.clear_contextvars()
    try:
        statuses = send_deliveries(send_context(), delivery_ids, clock=utcnow)
    finally:
        structlog.contextvars.clear_contextvars()
    return statuses.count(DeliveryStatus.SENT)


@app.task(name=DISPATCH_TASK, ignore_result=True)
def dispatch_task(interval_s: float | None = None) -> int:
    """Claim due deliveries (and what falls due before the next tick, `interval_s` later:
    beat's interval) and publish send tasks for them; enroll requests stored while no valid
    schedules were loaded, once they are."""
    sent = run_dispatcher(app, interval_s=interval_s)
    catalog = live_catalog(get_settings()).current
    if catalog is not None:
        with session_scope() as session:
            enrolled = enroll_pending(session, catalog, now=utcnow())
        if enrolled:
            log.info("intake.pending_enrolled", requests=enrolled)
    return sent


@app.task(name=STAFF_TASK, ignore_result=True, acks_late=True, **SEND_RETRY)
def send_staff_task() -> int:
    """Send due staff messages (notices of replies, forwards, answers); how many were sent."""
    structlog.contextvars.clear_contextvars()
    try:
        return send_staff_messages(send_context(), clock=utcnow).get("sent", 0)
    finally:
        structlog.contextvars.clear_contextvars()


@app.task(name=RECONCILE_TASK, ignore_result=True)
def reconcile_task() -> int:
    """Ask the providers about `unknown` deliveries; how many were settled."""
    decisions = reconcile(send_context(), now=utcnow())
    return sum(d.verdict.value != "unknown" for d in decisions)
