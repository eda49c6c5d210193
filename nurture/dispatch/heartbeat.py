"""Workers' signs of life: each running worker process keeps a `heartbeats` row fresh.

`/readyz`, `/ops` and `nurture status` count the fresh rows. On any broker: no broadcast
message is needed (the embedded broker carries none), and a worker that died stops counting
`WORKER_FRESH_S` later; one that stops cleanly removes its row at once.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nurture.db import session_scope
from nurture.db.tables import Heartbeat
from nurture.db.upsert import insert_or_update

log = structlog.get_logger(__name__)

#: Heartbeat names of workers start with this (the scheduler's is `dispatcher`).
WORKER_PREFIX = "worker:"
#: Seconds between two beats of a worker.
WORKER_BEAT_S = 5.0
#: A worker whose last beat is older than this is not counted.
WORKER_FRESH_S = 20.0


def worker_name(hostname: str | None = None, pid: int | None = None) -> str:
    """This process's heartbeat name (at most the column's 50 characters)."""
    pid = os.getpid() if pid is None else pid
    return f"{WORKER_PREFIX}{pid}@{hostname or socket.gethostname()}"[:50]


def beat_worker(session: Session, name: str, now: datetime) -> None:
    """Record that worker `name` is alive at `now`."""
    insert_or_update(
        session, Heartbeat, {"name": name, "at": now}, conflict=["name"], update={"at": now}
    )


def forget_worker(session: Session, name: str) -> None:
    """A worker stopping cleanly: it no longer counts."""
    session.execute(delete(Heartbeat).where(Heartbeat.name == name))


def fresh_workers(session: Session, now: datetime) -> int:
    """How many workers beat within the last `WORKER_FRESH_S` seconds."""
    since = now - timedelta(seconds=WORKER_FRESH_S)
    query = select(func.count()).where(
        Heartbeat.name.startswith(WORKER_PREFIX), Heartbeat.at >= since
    )
    return int(session.scalar(query) or 0)


class WorkerHeartbeat:
    """A thread that beats for this worker process every `WORKER_BEAT_S` until stopped."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.name = worker_name()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now (the worker counts before it says it is ready), then every few s."""
        self._beat()
        self._thread.start()

    def _beat(self) -> None:
        try:
            with session_scope() as session:
                beat_worker(session, self.name, self.clock())
        except Exception as exc:  # the database is down: try again at the next beat
            log.warning("worker.heartbeat_failed", error=type(exc).__name__)

    def _run(self) -> None:
        while not self._stop.wait(WORKER_BEAT_S):
            self._beat()

    def stop(self) -> None:
        """Stop beating and remove this worker's row."""
        self._stop.set()
        self._thread.join(WORKER_BEAT_S)
        try:
            with session_scope() as session:
                forget_worker(session, self.name)
        except Exception as exc:
            log.warning("worker.heartbeat_failed", error=type(exc).__name__)
