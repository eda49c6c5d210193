"""The real stack a benchmark runs on: its own PostgreSQL schema, its own Redis database, a
tmpfs outbox, and real worker processes; everything is removed again at the end."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
# `scripts/services.sh` exports where the test servers are; the bench uses the same ones.
PG_DSN = os.environ.get(
    "NURTURE_BENCH_PG",
    os.environ.get("NURTURE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
)
REDIS_URL = os.environ.get(
    "NURTURE_BENCH_REDIS",
    f"redis://127.0.0.1:{os.environ.get('NURTURE_TEST_REDIS_PORT', '6379')}/12",
)
#: The workers' log level: WARNING, so that figures carry no per-message log lines;
#: `NURTURE_BENCH_LOG_LEVEL=INFO` to see what a figure's workers did (in its folder's logs).
LOG_LEVEL = os.environ.get("NURTURE_BENCH_LOG_LEVEL", "WARNING")

#: The sequence deliveries are planned in: no send window, so only SMS quiet hours apply,
#: and the enrollment's zone is chosen where it is midday (see `midday_zone`).
BENCH_SEQUENCE = """
id: bench
name: Benchmark sequence (no send window)
match: {concern: [bench]}
steps:
  - {id: doctor-first, after: 0m, channels: [email, sms], template: hip-pain/doctor-first}
  - {id: self-test, after: 1d, channels: [email, sms], template: hip-pain/self-test}
  - {id: exercise-videos, after: 3d, channels: [email, sms], template: hip-pain/exercise-videos}
  - {id: booking, after: 5d, channels: [email, sms], template: hip-pain/booking}
"""


def midday_zone(now: datetime | None = None) -> str:
    """An IANA zone where it is now about noon, so SMS quiet hours never hold a message."""
    now = now or datetime.now(UTC)
    offset = max(-12, min(14, 12 - now.hour))
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


@dataclass
class Proc:
    """A process the bench started; CPU and memory are read for its whole tree."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    #: The Celery node name (`name-xxxxxx`), for workers.
    node: str = ""

    @property
    def tree(self) -> list[psutil.Process]:
        try:
            parent = psutil.Process(self.popen.pid)
            return [parent, *parent.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process and its live children so far."""
        total = 0.0
        for p in self.tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    def rss_bytes(self) -> int:
        total = 0
        for p in self.tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                for p in reversed(self.tree):
                    p.kill()
                self.popen.wait(10)


@dataclass
class Stack:
    """Settings (NURTURE_*) for this run, shared by the bench process and its children."""

    env: dict[str, str]
    pg_schema: str
    redis_url: str
    work_dir: Path
    procs: list[Proc] = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.env["NURTURE_DATABASE_URL"]

    @property
    def outbox_dir(self) -> Path:
        return Path(self.env["NURTURE_OUTBOX_DIR"])

    def apply(self, **overrides: str) -> None:
        """Point this process's settings (and children started later) at `overrides` too."""
        from nurture.config import get_settings
        from nurture.db import reset_engines

        for key, value in overrides.items():
            self.env[f"NURTURE_{key.upper()}"] = value
        os.environ.update(self.env)
        get_settings.cache_clear()
        reset_engines()

    def spawn(self, name: str, args: list[str], *, extra_env: dict[str, str] | None = None) -> Proc:
        """Start `args` (after the Python executable) with the stack's settings."""
        log_path = self.work_dir / f"{name}.log"
        with open(log_path, "wb") as log:
            popen = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **self.env, **(extra_env or {})},
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def celery(
        self,
        name: str,
        *,
        app: str = "nurture.worker",
        queues: str,
        pool: str = "threads",
        concurrency: int = 4,
        beat: bool = False,
        extra: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Proc:
        """A real `celery worker` process, returned once it answers a ping."""
        node = f"{name}-{uuid.uuid4().hex[:6]}"
        args = [
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "--loglevel",
            LOG_LEVEL,
            "-Q",
            queues,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"{node}@%h",
            *(extra or []),
        ]
        if beat:
            args += ["--beat", "--schedule", str(self.work_dir / f"beat-{name}")]
        proc = self.spawn(name, args, extra_env=extra_env)
        proc.node = node
        wait_ready(proc, self.redis_url)
        return proc

    def nurture_worker(
        self,
        name: str,
        *,
        processes: int | None = None,
        pool: str = "threads",
        concurrency: int | None = None,
        queues: str | None = None,
    ) -> Proc:
        """`nurture worker` as an operator starts it: its own defaults (one process per core,
        each with a threads pool) for whatever is not given; returned once every one of its
        processes answers a ping."""
        from nurture.cli.services import worker_processes

        args = ["-m", "nurture.cli", "worker", "--pool", pool]
        if queues is not None:
            args += ["--queues", queues]
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        if processes is not None:
            args += ["--processes", str(processes)]
        proc = self.spawn(name, args)
        count = worker_processes(processes or 0, pool)
        proc.node = "celery"
        wait_ready(proc, self.redis_url, timeout_s=180, nodes=count)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()


def wait_ready(proc: Proc, broker_url: str, timeout_s: float = 60.0, *, nodes: int = 1) -> None:
    """Until the worker answers a ping on the broker (its consumers are then running); a
    worker of several processes (`nodes`) named `node@`, `node1@`, ...: each of them."""
    from celery import Celery

    probe = Celery("bench-probe", broker=broker_url)
    probe.conf.broker_connection_retry_on_startup = True
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"{proc.name} exited early:\n{proc.log()[-3000:]}")
            replies = probe.control.ping(timeout=0.5)
            names = {f"{proc.node}{n or ''}@" for n in range(nodes)}
            up = {nm for r in replies for node in r for nm in names if node.startswith(nm)}
            if len(up) >= nodes:
                return
        raise RuntimeError(f"{proc.name} not ready after {timeout_s}s:\n{proc.log()[-3000:]}")
    finally:
        probe.close()


def wait_until(
    predicate: Callable[[], bool], *, timeout_s: float, interval_s: float = 0.05
) -> float:
    """Poll until `predicate()`; the monotonic time it first held. TimeoutError otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        if predicate():
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {timeout_s}s")
        time.sleep(interval_s)


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


@contextmanager
def bench_stack(*, redis_url: str = REDIS_URL, pg_dsn: str = PG_DSN) -> Iterator[Stack]:
    """A fresh schema on PostgreSQL, a flushed Redis database and a tmpfs outbox."""
    import sqlalchemy as sa

    from nurture.db import reset_engines, upgrade

    token = uuid.uuid4().hex[:10]
    schema = f"nurture_bench_{token}"
    work_dir = Path(tempfile.mkdtemp(prefix="nurture-bench-"))
    shm = Path("/dev/shm")
    outbox = Path(
        tempfile.mkdtemp(prefix="nurture-bench-outbox-", dir=shm if shm.is_dir() else None)
    )
    schedules = work_dir / "schedules"
    shutil.copytree(ROOT / "schedules", schedules)
    (schedules / "bench.yaml").write_text(BENCH_SEQUENCE)
    env = {
        "NURTURE_DATABASE_URL": f"{pg_dsn}?options=-csearch_path%3D{schema}",
        "NURTURE_BROKER_URL": redis_url,
        "NURTURE_VAR_DIR": str(work_dir / "var"),
        "NURTURE_SCHEDULES_DIR": str(schedules),
        "NURTURE_TEMPLATES_DIR": str(ROOT / "templates"),
        "NURTURE_OUTBOX_DIR": str(outbox),
        "NURTURE_EMAIL_BACKEND": "outbox",
        "NURTURE_SMS_BACKEND": "outbox",
        "NURTURE_API_KEY": "bench-key",
        "NURTURE_SECRET_KEY": "bench-secret-that-signs-links-and-sessions",
        "NURTURE_PUBLIC_URL": "https://nurture.bench",
        "NURTURE_LOG_FORMAT": "json",
        "NURTURE_LOG_LEVEL": LOG_LEVEL,
    }
    saved = {k: v for k, v in os.environ.items() if k.startswith("NURTURE_")}
    for key in saved:
        del os.environ[key]
    admin = sa.create_engine(pg_dsn, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    flush_redis(redis_url)
    stack = Stack(env=env, pg_schema=schema, redis_url=redis_url, work_dir=work_dir)
    try:
        stack.apply()
        upgrade()
        yield stack
    finally:
        stack.stop_all()
        reset_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        flush_redis(redis_url)
        shutil.rmtree(outbox, ignore_errors=True)
        shutil.rmtree(work_dir, ignore_errors=True)
        for key in [k for k in os.environ if k.startswith("NURTURE_")]:
            del os.environ[key]
        os.environ.update(saved)
        from nurture.config import get_settings

        get_settings.cache_clear()
