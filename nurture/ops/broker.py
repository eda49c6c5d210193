"""What the broker and the workers say: messages waiting per queue, workers answering a ping."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from nurture.config import Settings
from nurture.core.keys import DISPATCH_QUEUE, SEND_QUEUE
from nurture.dispatch.queue import create_app
from nurture.errors import ConfigError

QUEUES = (SEND_QUEUE, DISPATCH_QUEUE)
#: kombu's Redis transport keeps one list per priority step: `queue`, `queue\x06\x163`, ...
_REDIS_PRIORITY_SEP = "\x06\x16"
_REDIS_PRIORITY_STEPS = (3, 6, 9)


def queue_depths(settings: Settings) -> dict[str, int]:
    """Task messages waiting on each queue (not counting those a worker already holds).

    Redis: the lengths of the queue's lists. The embedded broker: its message files.
    Raises whatever the broker raises when it cannot be reached.
    """
    if settings.embedded_broker:
        return _folder_depths(settings.broker_dir / "queue")
    if settings.broker_url.startswith(("redis://", "rediss://", "unix://")):
        return _redis_depths(settings.broker_url)
    raise ConfigError(f"queue depth is not known for broker {settings.broker_url!r}")


def _folder_depths(folder: Path) -> dict[str, int]:
    depths = dict.fromkeys(QUEUES, 0)
    if not folder.exists():
        return depths
    # kombu's file transport names each message `<ms>_<uuid>.<queue>.msg`.
    for entry in folder.iterdir():
        queue = entry.name.partition(".")[2].removesuffix(".msg")
        if queue in depths:
            depths[queue] += 1
    return depths


def _redis_depths(url: str) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(queue)
            for step in _REDIS_PRIORITY_STEPS:
                pipe.llen(f"{queue}{_REDIS_PRIORITY_SEP}{step}")
        lengths = pipe.execute()
    finally:
        client.close()
    per_queue = 1 + len(_REDIS_PRIORITY_STEPS)
    return {q: int(sum(lengths[i * per_queue : (i + 1) * per_queue])) for i, q in enumerate(QUEUES)}


def local_worker_name() -> str:
    """The node name `nurture worker` gets on this host (Celery's default, celery@hostname)."""
    return f"celery@{socket.gethostname()}"


def ping_workers(
    settings: Settings | None = None,
    *,
    timeout_s: float = 1.0,
    destination: list[str] | None = None,
) -> int | None:
    """How many Celery workers answer a ping within `timeout_s`.

    None on the embedded broker, which carries no broadcast messages; 0 when the broker
    cannot be reached.
    """
    from nurture.config import get_settings

    settings = settings or get_settings()
    if settings.embedded_broker:
        return None
    # An app for exactly these settings (the module's `app` keeps those it was imported with).
    celery = create_app(settings)
    try:
        replies = celery.control.ping(timeout=timeout_s, destination=destination) or []
    except Exception:
        return 0
    finally:
        celery.close()
    return len(replies)


class CachedPing:
    """A worker count remembered for `ttl_s`, so a page refreshing every few seconds does not
    wait a ping timeout on every load."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: tuple[float, str, int | None] | None = None

    def __call__(self, settings: Settings, *, timeout_s: float) -> int | None:
        with self._lock:
            cached = self._value
            if (
                cached is not None
                and cached[1] == settings.broker_url
                and time.monotonic() - cached[0] < self.ttl_s
            ):
                return cached[2]
        value = ping_workers(settings, timeout_s=timeout_s)
        with self._lock:
            self._value = (time.monotonic(), settings.broker_url, value)
        return value
