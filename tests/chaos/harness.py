"""The chaos harness: a real stack (PostgreSQL, a private Redis, worker and scheduler
processes) with a thousand deliveries falling due at once, and exact accounting afterwards."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from nurture.config import get_settings
from nurture.core.states import DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Delivery, Enrollment
from nurture.intake.request import ConsultationRequestIn
from nurture.intake.service import submit
from nurture.schedule.catalog import load_catalog
from tests.conftest import celery_worker_args, free_port
from tests.fakes.provider import FakeProvider, delivery_id_of
from tests.support.names import letter_name

ROOT = Path(__file__).resolve().parents[2]

CHAOS_SEQUENCE = """
id: chaos
name: Chaos sequence
match: {concern: [chaos]}
stop_on: [booked, unsubscribed]
steps:
  - id: one
    after: 0s
    channels: [email, sms]
    template: hip-pain/doctor-first
  - id: two
    after: 3s
    channels: [email, sms]
    template: hip-pain/self-test
"""


class RedisServer:
    """A private redis-server on its own port, which a scenario may restart."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    args: list[str] = field(default_factory=list)
    #: Killed on purpose, or already replaced by `supervise`.
    retired: bool = False


@dataclass
class Stack:
    """Worker and scheduler processes sharing one settings environment."""

    env: dict[str, str]
    folder: Path
    redis: RedisServer
    fake: FakeProvider
    app_name: str
    procs: list[Proc] = field(default_factory=list)

    def _spawn(self, name: str, args: list[str]) -> Proc:
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "nurture.worker", *args],
                env={**os.environ, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, process, log, args)
        self.procs.append(proc)
        return proc

    def worker(self, name: str, concurrency: int = 8) -> Proc:
        return self._spawn(name, celery_worker_args(name, concurrency, "--without-heartbeat"))

    def scheduler(self, name: str = "beat") -> Proc:
        return self._spawn(
            name,
            ["beat", "--loglevel", "INFO", "--schedule", str(self.folder / f"{name}-schedule")],
        )

    @contextmanager
    def supervise(self, interval_s: float = 0.5) -> Iterator[list[str]]:
        """Start again any process that exits, as a restart policy does (compose's
        `restart: unless-stopped`); yields the names of those restarted."""
        restarted: list[str] = []
        done = threading.Event()

        def watch() -> None:
            while not done.wait(interval_s):
                for proc in list(self.procs):
                    if not proc.retired and proc.process.poll() is not None:
                        proc.retired = True
                        restarted.append(proc.name)
                        self._spawn(f"{proc.name}-again{len(restarted)}", proc.args)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        try:
            yield restarted
        finally:
            done.set()
            thread.join()

    def kill9(self, proc: Proc) -> None:
        proc.retired = True
        if proc.process.poll() is None:
            proc.process.send_signal(signal.SIGKILL)
            proc.process.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.process.poll() is None:
                proc.process.terminate()
        for proc in self.procs:
            try:
                proc.process.wait(15)
            except subprocess.TimeoutExpired:
                proc.process.kill()
                proc.process.wait(5)

    def logs(self) -> str:
        return "\n".join(p.log.read_text(errors="replace") for p in self.procs if p.log.exists())


def enroll_many(count: int, *, timezone: str, now: datetime | None = None) -> None:
    """`count` prospects in the chaos sequence, each with an email and a phone."""
    catalog = load_catalog(get_settings().schedules_dir)
    now = now or datetime.now(UTC)
    for n in range(count):
        submit(
            ConsultationRequestIn(
                first_name=letter_name(n),
                email=f"p{n}@example.com",
                phone=f"+1617555{n:04d}",
                concern="chaos",
                timezone=timezone,
            ),
            catalog=catalog,
            now=now,
        )


def provider_records(fake: FakeProvider) -> list[int]:
    """The delivery id of every message the fake SendGrid and Twilio accepted."""
    return [delivery_id_of(m) for m in fake.messages()]


@dataclass(frozen=True)
class Accounting:
    enrolled: int
    by_state: dict[str, int]
    provider_total: int
    duplicates: dict[int, int]
    sent_without_record: list[int]
    record_not_sent_or_unknown: list[int]

    def report(self, title: str) -> str:
        states = ", ".join(f"{k}={v}" for k, v in sorted(self.by_state.items()) if v)
        return (
            f"[chaos] {title}: deliveries={self.enrolled} ({states}); "
            f"at provider={self.provider_total}; duplicates={len(self.duplicates)}; "
            f"sent without record={len(self.sent_without_record)}; "
            f"records not sent/unknown={len(self.record_not_sent_or_unknown)}"
        )


def account(records: list[int]) -> Accounting:
    with session_scope() as s:
        rows = s.execute(select(Delivery.id, Delivery.status)).all()
    status = {i: DeliveryStatus(st) for i, st in rows}
    counts = Counter(records)
    by_state = Counter(st.value for st in status.values())
    return Accounting(
        enrolled=len(status),
        by_state=dict(by_state),
        provider_total=len(records),
        duplicates={i: c for i, c in counts.items() if c > 1},
        sent_without_record=sorted(
            i for i, st in status.items() if st is DeliveryStatus.SENT and i not in counts
        ),
        record_not_sent_or_unknown=sorted(
            i for i in counts if status.get(i) not in (DeliveryStatus.SENT, DeliveryStatus.UNKNOWN)
        ),
    )


def sending_now() -> int:
    """Deliveries a worker has taken and not yet recorded: calls in flight."""
    with session_scope() as s:
        return int(
            s.scalar(select(func.count()).where(Delivery.status == DeliveryStatus.SENDING)) or 0
        )


def settled() -> bool:
    """Nothing left in flight: every delivery terminal or unknown."""
    with session_scope() as s:
        open_count = s.scalar(
            select(func.count()).where(
                Delivery.status.in_(
                    [
                        DeliveryStatus.SCHEDULED,
                        DeliveryStatus.QUEUED,
                        DeliveryStatus.SENDING,
                        DeliveryStatus.RETRYING,
                    ]
                )
            )
        )
    return open_count == 0


def wait_settled(timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if settled():
            return True
        time.sleep(0.5)
    return settled()


def stopped_enrollments() -> list[int]:
    with session_scope() as s:
        return list(
            s.scalars(select(Enrollment.id).where(Enrollment.status == EnrollmentStatus.STOPPED))
        )


def random_pause(rng: random.Random, low: float, high: float) -> None:
    time.sleep(rng.uniform(low, high))


def copy_schedules(target: Path) -> Path:
    shutil.copytree(ROOT / "schedules", target)
    (target / "chaos.yaml").write_text(CHAOS_SEQUENCE)
    return target
