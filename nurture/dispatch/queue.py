"""The task queue: nurture's Celery configuration (queues, routes, the beat schedule), the
app factory, publishing send tasks, and a broker connection for health checks.

Celery carries work, never the schedule: beat fires the dispatcher about every second, the
dispatcher publishes send tasks for the deliveries it claimed, and nothing is sent with an
ETA. The tasks themselves are in `nurture.worker`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from kombu import Connection, Exchange, Queue

from nurture.config import Settings, get_settings
from nurture.core.keys import (
    DISPATCH_QUEUE,
    DISPATCH_TASK,
    EXCHANGE,
    RECONCILE_TASK,
    SEND_BATCH_TASK,
    SEND_QUEUE,
    SEND_TASK,
    STAFF_TASK,
)
from nurture.dispatch.files import BAD_FOLDER, SCHEME, TMP_FOLDER

#: The direct exchange both queues hang on.
TASK_EXCHANGE = Exchange(EXCHANGE, type="direct")
#: The embedded broker's folders under `VAR_DIR/broker` (`nurture.dispatch.files`).
BROKER_FOLDERS = ("queue", "processed", "control", TMP_FOLDER, BAD_FOLDER)


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
        "task_queues": [
            Queue(q, TASK_EXCHANGE, routing_key=q) for q in (SEND_QUEUE, DISPATCH_QUEUE)
        ],
        "task_default_queue": SEND_QUEUE,
        "task_default_exchange": TASK_EXCHANGE.name,
        "task_default_routing_key": SEND_QUEUE,
        "task_routes": {
            SEND_TASK: {"queue": SEND_QUEUE, "routing_key": SEND_QUEUE},
            SEND_BATCH_TASK: {"queue": SEND_QUEUE, "routing_key": SEND_QUEUE},
            DISPATCH_TASK: {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
            # On the short dispatch queue: a backlog of sends does not delay telling staff.
            STAFF_TASK: {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
            RECONCILE_TASK: {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
        },
        "beat_schedule": {
            "dispatch": {
                "task": DISPATCH_TASK,
                "schedule": timedelta(seconds=settings.dispatch_interval_s),
                # The next tick comes this much later: the tick claims what falls due until
                # then (whatever interval the process that runs it was started with).
                "args": (settings.dispatch_interval_s,),
                # A tick nobody ran within a few seconds is useless: the next one covers it.
                "options": {
                    "queue": DISPATCH_QUEUE,
                    "expires": max(5.0, settings.dispatch_interval_s * 5),
                },
            },
            # Replies (docs/REPLIES.md): notices to staff, forwards, answers from the inbox.
            "staff": {
                "task": STAFF_TASK,
                "schedule": timedelta(seconds=settings.staff_interval_s),
                "options": {
                    "queue": DISPATCH_QUEUE,
                    "expires": max(10.0, settings.staff_interval_s * 5),
                },
            },
            # Asks the providers about `unknown` deliveries (nurture.send.reconcile).
            "reconcile": {
                "task": RECONCILE_TASK,
                "schedule": timedelta(seconds=settings.reconcile_interval_s),
                "options": {"queue": DISPATCH_QUEUE, "expires": settings.reconcile_interval_s},
            },
        },
        "beat_schedule_filename": str(settings.var_dir / "celerybeat-schedule"),
        # Task events (for Flower and `celery events`) cost three broker messages per task;
        # nurture's own ops views do not need them.
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": False,
    }
    if settings.embedded_broker:
        folder = settings.broker_dir
        config["broker_url"] = f"{SCHEME}://"
        config["broker_transport_options"] = {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
            "polling_interval": 0.2,
        }
        config["worker_send_task_events"] = False
        # No pidbox: remote control (ping, inspect, broadcast) would put a fanout exchange
        # and a reply queue per call on the folder. Workers report by heartbeat rows instead.
        config["worker_enable_remote_control"] = False
    else:
        config["broker_url"] = settings.broker_url
        config["broker_transport_options"] = {"visibility_timeout": 3600}
    return config


def create_app(settings: Settings | None = None) -> Celery:
    """A Celery app for `settings` (default: the process's), ready to publish and consume:
    on the embedded broker its folders are made here. No connection is made until used."""
    settings = settings or get_settings()
    prepare_broker(settings)
    celery = Celery("nurture")
    celery.conf.update(celery_config(settings))
    return celery


def prepare_broker(settings: Settings) -> None:
    """Create the embedded broker's folders (a worker or scheduler about to use them)."""
    if settings.embedded_broker:
        for sub in BROKER_FOLDERS:
            (settings.broker_dir / sub).mkdir(parents=True, exist_ok=True)


def broker_connection(settings: Settings) -> Connection:
    """A kombu connection to the configured broker, for checks (`/readyz`), not for tasks."""
    config = celery_config(settings)
    return Connection(config["broker_url"], transport_options=config["broker_transport_options"])


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
