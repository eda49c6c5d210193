"""Shared fixtures: real Redis and PostgreSQL (skipped locally with a reason, required on CI),
an isolated settings environment per test, and real Celery worker processes."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.config import get_settings
from nurture.db import reset_engines
from nurture.people import credentials
from tests.fakes.provider import FakeProvider
from tests.support.databases import MigratedTemplates, own_redis_db

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
REDIS_HOST = os.environ.get("NURTURE_TEST_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("NURTURE_TEST_REDIS_PORT", "6379"))
#: This test process's own Redis database (one per pytest-xdist worker).
REDIS_DB = own_redis_db()
PG_DSN = os.environ.get("NURTURE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: The env fixture's NURTURE_SECRET_KEY: long enough for a PUBLIC_URL off loopback.
SECRET_KEY = "test-secret-that-signs-links-and-sessions"

FAST_SEQUENCE = """
id: fast
name: Compressed follow-up for tests
match: {concern: [fast]}
stop_on: [booked, unsubscribed]
steps:
  - id: doctor-first
    after: 0s
    channels: [email, sms]
    template: hip-pain/doctor-first
  - id: self-test
    after: 4s
    channels: [email, sms]
    template: hip-pain/self-test
  - id: booking
    after: 8s
    channels: [email, sms]
    when: "not contact.booked"
    template: hip-pain/booking
"""


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess:
    """`nurture api` (or another serving command, e.g. `("run",)` or `("api", "--workers",
    "2")`) in its own process with the test's settings, on a free port; stopped with
    `stop()`. `start()` waits until it answers /healthz."""

    def __init__(
        self, env: dict[str, str], log_path: Path, command: tuple[str, ...] = ("api",)
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nurture.cli", *command, "--port", str(self.port)],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, timeout_s: float = 120) -> ApiProcess:
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                assert self.process.poll() is None, self.log()
                return False

        wait_for(up, timeout_s=timeout_s, message="the API to answer /healthz")
        return self

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)  # `nurture run` first stops its worker (warm shutdown)
        self._log.close()


def need_service(name: str, host: str, port: int) -> None:
    """Skip (locally) or fail (CI=true) when a real service is not there."""
    if _reachable(host, port):
        return
    message = (
        f"{name} is not reachable at {host}:{port}; start it "
        f"(`make services`) or run `make test`, which starts it"
    )
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def midday_zone(now: datetime | None = None) -> str:
    """An IANA zone where it is now between 11:00 and 14:00, so SMS quiet hours never bite."""
    now = now or datetime.now(UTC)
    offset = 12 - now.hour  # local = utc + offset -> around noon
    offset = max(-12, min(14, offset))
    # Etc/GMT signs are inverted: Etc/GMT-5 is UTC+5.
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


#: The hasher nurture uses (Argon2id, RFC 9106 low-memory: 64 MiB, 3 passes, 4 lanes).
PRODUCTION_HASHER = credentials._hasher


def pytest_configure(config: pytest.Config) -> None:
    """In-process tests hash passwords at Argon2id's lowest cost: at the production cost one
    hash is a tenth of a second of CPU, and hundreds of tests make people and sign them in.
    The processes tests start (`nurture api`, workers, CLI commands) keep the production cost,
    and tests/people/test_signin.py checks `PRODUCTION_HASHER` is the one nurture ships."""
    credentials._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (--dist loadgroup)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The chaos tests run one after another in one test process: each starts a stack of
    workers that holds dozens of PostgreSQL connections and most of the machine's CPU. Tests
    that start real workers get a 600 s cap."""
    for item in items:
        if item.get_closest_marker("chaos"):
            item.add_marker(pytest.mark.xdist_group("chaos"))
        # Real worker processes: starting one can take over a minute on a loaded machine,
        # so such a test gets longer than the default 120 s unless it says how long itself.
        uses = getattr(item, "fixturenames", ())
        if "start_worker" in uses and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(600))


@pytest.fixture
def redis_url() -> Iterator[str]:
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    import redis

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    import sqlalchemy as sa

    schema = f"nurture_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_DSN}?options=-csearch_path%3D{schema}"
    reset_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def var_dir(tmp_path: Path) -> Path:
    path = tmp_path / "var"
    path.mkdir()
    return path


def copy_schedules(folder: Path) -> Path:
    """The shipped schedules plus the compressed `fast` sequence, copied into `folder`."""
    shutil.copytree(ROOT / "schedules", folder)
    (folder / "fast.yaml").write_text(FAST_SEQUENCE)
    return folder


@pytest.fixture
def schedules_dir(tmp_path: Path) -> Path:
    """The shipped schedules plus the compressed `fast` sequence."""
    return copy_schedules(tmp_path / "schedules")


def isolated_env(var_dir: Path, schedules_dir: Path) -> dict[str, str]:
    """NURTURE_* for an isolated embedded setup on SQLite in `var_dir`."""
    return {
        "NURTURE_VAR_DIR": str(var_dir),
        "NURTURE_DATABASE_URL": f"sqlite:///{var_dir / 'nurture.db'}",
        "NURTURE_BROKER_URL": "embedded",
        "NURTURE_SCHEDULES_DIR": str(schedules_dir),
        "NURTURE_TEMPLATES_DIR": str(ROOT / "templates"),
        "NURTURE_OUTBOX_DIR": str(var_dir / "outbox"),
        "NURTURE_API_KEY": "test-key",
        "NURTURE_SECRET_KEY": SECRET_KEY,
        "NURTURE_PUBLIC_URL": "https://nurture.test",
        "NURTURE_LOG_FORMAT": "json",
        # Each process's pool: its steady connections (one per thread and a few) plus at
        # most 4 more, not 20: two test processes with workers each stay far below
        # PostgreSQL's 100 connections.
        "NURTURE_DB_MAX_OVERFLOW": "4",
    }


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """Exactly `values` as this process's NURTURE_* settings (until `monkeypatch` undoes it)."""
    for key in list(os.environ):
        if key.startswith("NURTURE_") and key not in values:
            monkeypatch.delenv(key)
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    refresh_settings()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, var_dir: Path, schedules_dir: Path) -> dict[str, str]:
    """NURTURE_* for an isolated embedded setup on SQLite; tests override what they need."""
    values = isolated_env(var_dir, schedules_dir)
    set_env(monkeypatch, values)
    yield values
    refresh_settings()


def refresh_settings() -> None:
    """Settings, engines and the send context read the environment again."""
    get_settings.cache_clear()
    reset_engines()
    from nurture.send.context import forget_send_context

    forget_send_context()


def use(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    """Change NURTURE_* settings inside a test (keys without the prefix, any case)."""
    for key, value in values.items():
        name = f"NURTURE_{key.upper()}"
        env[name] = value
        monkeypatch.setenv(name, value)
    refresh_settings()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MigratedTemplates]:
    """This test process's migrated SQLite file and PostgreSQL dump, copied per test, and its
    reused PostgreSQL schema (dropped at the end)."""
    templates = MigratedTemplates(tmp_path_factory.mktemp("templates"), PG_DSN)
    yield templates
    templates.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(
    request: pytest.FixtureRequest,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    migrated_templates: MigratedTemplates,
) -> str:
    """A migrated database of each kind; the settings point at it. On PostgreSQL, this test
    process's reused schema, emptied for the test (tests/support/databases.py)."""
    if request.param == "postgresql":
        need_service("PostgreSQL", "127.0.0.1", 5432)
        reused = migrated_templates.reused_postgres()
        if reused is not None:
            use(env, monkeypatch, database_url=reused)
            return request.param
        use(env, monkeypatch, database_url=request.getfixturevalue("pg_url"))
    migrated_templates.migrate(get_settings().database_url)
    return request.param


def celery_worker_args(name: str, concurrency: int, *extra: str) -> list[str]:
    """`celery … worker` arguments for a test worker on both nurture queues (threads pool)."""
    return [
        "worker",
        "--loglevel",
        "INFO",
        "-Q",
        "nurture:send,nurture:dispatch",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--without-mingle",
        "--without-gossip",
        *extra,
        "-n",
        f"{name}@%h",
    ]


class WorkerProcess:
    """A real `celery worker` (with beat) started as a subprocess with the test's settings."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        *,
        beat: bool = True,
        concurrency: int = 4,
        name: str = "w1",
    ) -> None:
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "nurture.worker",
            *celery_worker_args(name, concurrency),
        ]
        if beat:
            args += ["--beat", "--schedule", str(Path(env["NURTURE_VAR_DIR"]) / f"beat-{name}")]
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            args, env={**os.environ, **env}, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


@pytest.fixture
def start_worker(env: dict[str, str], tmp_path: Path) -> Iterator[object]:
    """Start real worker processes with the test's current settings (by default waiting until
    each says it is ready); all stopped at the end."""
    started: list[WorkerProcess] = []

    def start(
        *,
        beat: bool = True,
        concurrency: int = 4,
        name: str | None = None,
        extra_env: dict[str, str] | None = None,
        ready: bool = True,
    ) -> WorkerProcess:
        name = name or f"w{len(started) + 1}"
        worker = WorkerProcess(
            {**env, **(extra_env or {})},
            tmp_path / f"{name}.log",
            beat=beat,
            concurrency=concurrency,
            name=name,
        )
        started.append(worker)
        if ready:
            # A loaded machine can take seconds to start one (over a minute beside
            # `stress-ng --cpu 2` with other runs); tests time from here.
            wait_for(
                lambda: " ready." in worker.log() or worker.process.poll() is not None,
                timeout_s=240,
                message=f"worker {name} ready",
            )
        return worker

    yield start
    for worker in started:
        worker.stop()


def wait_for(
    predicate: object,
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.2,
    message: str = "condition",
) -> object:
    """Poll `predicate()` until it returns something truthy; fail with `message` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s}s waiting for {message}")
        time.sleep(interval_s)


# --- providers: the fake SendGrid/Twilio server and the keys that sign their webhooks ------

TWILIO_ACCOUNT_SID = "AC" + "5" * 32
TWILIO_AUTH_TOKEN = "twilio-test-token"
TWILIO_FROM = "+16175550100"
SENDGRID_API_KEY = "SG.test-key.for-the-fake"


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    """A fake SendGrid + Twilio HTTP server on a free port, stopped after the test."""
    fake = FakeProvider().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-256 key pair like the one SendGrid signs its event webhook with."""
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    """The public half as SendGrid's console shows it: base64 DER, no PEM armour."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def use_providers(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeProvider,
    key: ec.EllipticCurvePrivateKey,
    **values: str,
) -> None:
    """Point the SendGrid and Twilio channels (and their webhooks) at the fake."""
    settings = {
        "email_backend": "sendgrid",
        "sendgrid_api_key": SENDGRID_API_KEY,
        "sendgrid_api_host": fake.url,
        "sendgrid_webhook_public_key": sendgrid_public_key(key),
        "sms_backend": "twilio",
        "twilio_account_sid": TWILIO_ACCOUNT_SID,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "twilio_from": TWILIO_FROM,
        "twilio_api_base": fake.url,
        "provider_timeout_s": "2",
    }
    use(env, monkeypatch, **{**settings, **values})


@pytest.fixture
def webhook_client(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    fake_provider: FakeProvider,
) -> Iterator[TestClient]:
    """The API, with SendGrid and Twilio (the fake) as the channels and their webhook keys."""
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    with TestClient(create_app()) as test_client:
        yield test_client
