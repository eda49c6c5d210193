"""The Celery app: `celery -A nurture.worker worker|beat`, or `nurture worker|scheduler`.

Celery carries work, never the schedule: beat fires the dispatcher about every second, the
dispatcher enqueues one send task per due delivery, and nothing is sent with an ETA.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import lru_cache
from typing import Any

import structlog
from celery import Celery, signals
from kombu import Exchange, Queue
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from nurture.channels import make_channel
from nurture.config import Settings, get_settings
from nurture.db import reset_engines, session_factory, session_scope
from nurture.dispatch import dispatch_tick
from nurture.keys import (
    DISPATCH_QUEUE,
    DISPATCH_TASK,
    EXCHANGE,
    SEND_BATCH_TASK,
    SEND_QUEUE,
    SEND_TASK,
)
from nurture.logs import configure_logging
from nurture.models import Channel, DeliveryStatus, utcnow
from nurture.ratelimit import make_throttle
from nurture.schedules import load_catalog
from nurture.sending import SendContext, send_deliveries
from nurture.templates import Renderer

log = structlog.get_logger(__name__)
_EXCHANGE = Exchange(EXCHANGE, type="direct")


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings for the configured broker (Redis, or the embedded file broker)."""
    config: dict[str, Any] = {
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 4,
        "worker_hijack_root_logger": False,
        "broker_connection_retry_on_startup": True,
        # One direct exchange without a colon (the file broker refuses one in a file name).
        "task_queues": [Queue(q, _EXCHANGE, routing_key=q) for q in (SEND_QUEUE, DISPATCH_QUEUE)],
        "task_default_queue": SEND_QUEUE,
        "task_default_exchange": _EXCHANGE.name,
        "task_default_routing_key": SEND_QUEUE,
        "task_routes": {
            SEND_TASK: {"queue": SEND_QUEUE, "routing_key": SEND_QUEUE},
            SEND_BATCH_TASK: {"queue": SEND_QUEUE, "routing_key": SEND_QUEUE},
            DISPATCH_TASK: {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
        },
        "beat_schedule": {
            "dispatch": {
                "task": DISPATCH_TASK,
                "schedule": timedelta(seconds=settings.dispatch_interval_s),
                # A tick nobody ran within a few seconds is useless: the next one covers it.
                "options": {
                    "queue": DISPATCH_QUEUE,
                    "expires": max(5.0, settings.dispatch_interval_s * 5),
                },
            }
        },
        "beat_schedule_filename": str(settings.var_dir / "celerybeat-schedule"),
        # Task events (for Flower and `celery events`) cost three broker messages per task;
        # nurture's own ops views do not need them.
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": False,
    }
    if settings.embedded_broker:
        folder = settings.broker_dir
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        config["broker_url"] = "filesystem://"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.2,
        }
        config["worker_send_task_events"] = False
    else:
        config["broker_url"] = settings.broker_url
        config["broker_transport_options"] = {"visibility_timeout": 3600}
    return config


def create_app(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    celery = Celery("nurture")
    celery.conf.update(celery_config(settings))
    return celery


app = create_app()


def build_send_context(settings: Settings) -> SendContext:
    """Settings, the schedules, the renderer, the channels and the rate limits, for sending."""
    catalog = load_catalog(settings.schedules_dir)
    return SendContext(
        settings=settings,
        catalog=catalog,
        renderer=Renderer(settings.templates_dir),
        channels={c: make_channel(c, settings) for c in Channel},
        sessions=session_factory(settings.database_url),
        throttle=make_throttle(settings, email_sender=str(catalog.clinic.from_email)),
    )


#: A threads pool's first tasks all ask for the send context at once: it is built once.
_context_lock = threading.Lock()


@lru_cache(maxsize=1)
def _built_context() -> SendContext:
    return build_send_context(get_settings())


def send_context() -> SendContext:
    """The send context of this process, built once (whichever thread asks first)."""
    with _context_lock:
        return _built_context()


def forget_send_context() -> None:
    """Build the send context afresh on next use (new settings, a forked process)."""
    with _context_lock:
        _built_context.cache_clear()


@signals.worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    # A forked pool process must not share the parent's database connections.
    reset_engines(close=False)
    forget_send_context()


@signals.setup_logging.connect
def _logging(**_: Any) -> None:
    configure_logging(get_settings())


#: How a send task meets a database it cannot reach (refused, dropped, pool exhausted): it
#: runs again in 1, 2, 4… s (jittered, 5 times) instead of leaving its deliveries `queued`
#: until their lease ends. Safe at any point: the claim lets one run send a delivery once.
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

    A redelivered batch message is harmless: deliveries already sent lose their claim.
    """
    structlog.contextvars.clear_contextvars()
    try:
        statuses = send_deliveries(send_context(), delivery_ids, clock=utcnow)
    finally:
        structlog.contextvars.clear_contextvars()
    return statuses.count(DeliveryStatus.SENT)


@app.task(name=DISPATCH_TASK, ignore_result=True)
def dispatch_task() -> int:
    """Claim due deliveries and enqueue a send task for each."""
    return run_dispatcher(app)


def publish_sends(celery: Celery, ids: list[int], *, chunk: int) -> None:
    """Send tasks for `ids`: as few as carry at most `chunk` deliveries each, evenly filled
    (23 ids in chunks of 10 make tasks of 8, 8 and 7); a lone delivery goes as `nurture.send`.
    """
    with celery.producer_or_acquire() as producer:
        for part in split_evenly(ids, chunk):
            if len(part) == 1:
                celery.send_task(SEND_TASK, args=part, queue=SEND_QUEUE, producer=producer)
            else:
                celery.send_task(SEND_BATCH_TASK, args=[part], queue=SEND_QUEUE, producer=producer)


def split_evenly(ids: list[int], chunk: int) -> list[list[int]]:
    """`ids` in order, in the fewest parts of at most `chunk`, their sizes within one."""
    parts = -(-len(ids) // max(chunk, 1))
    size, extra = divmod(len(ids), parts) if parts else (0, 0)
    out: list[list[int]] = []
    start = 0
    for n in range(parts):
        end = start + size + (1 if n < extra else 0)
        out.append(ids[start:end])
        start = end
    return out


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
