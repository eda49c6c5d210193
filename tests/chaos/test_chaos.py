"""Chaos: workers killed, Redis restarted, PostgreSQL connections cut, two schedulers, stops
racing sends. Each scenario ends with exact accounting of what reached the provider."""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from nurture.control import find_contact, mark_booked, stop_contact
from nurture.db import session_scope, upgrade
from tests.chaos.harness import (
    RedisServer,
    Stack,
    account,
    copy_schedules,
    enroll_many,
    outbox_records,
    wait_settled,
)
from tests.conftest import IN_CI, PG_DSN, midday_zone, use

pytestmark = pytest.mark.chaos

PROSPECTS = 250  # x 2 steps x 2 channels = 1,000 deliveries
SETTLE_S = 90


@pytest.fixture
def chaos(
    env: dict[str, str], pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Stack, RedisServer]]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    app_name = f"nurture_chaos_{uuid.uuid4().hex[:8]}"
    redis = RedisServer(tmp_path)
    redis.start()
    use(
        env,
        monkeypatch,
        database_url=f"{pg_url}&application_name={app_name}",
        broker_url=redis.url,
        lease_s="5",
        dispatch_interval_s="0.5",
        schedules_dir=str(copy_schedules(tmp_path / "chaos-schedules")),
        log_level="WARNING",
    )
    env["CHAOS_APP_NAME"] = app_name
    upgrade()
    enroll_many(PROSPECTS, timezone=midday_zone())
    stack = Stack(env=dict(env), folder=tmp_path)
    yield stack, redis
    stack.stop_all()
    redis.stop()


def _finish(stack: Stack, title: str, *, expect_unknown_max: int = 50) -> None:
    settled = wait_settled(SETTLE_S)
    records = outbox_records(Path(stack.env["NURTURE_OUTBOX_DIR"]))
    result = account(records)
    print(result.report(title))
    assert result.enrolled == PROSPECTS * 4
    assert result.duplicates == {}, "a message reached the provider twice"
    assert result.record_not_sent_or_unknown == []
    assert result.sent_without_record == []
    assert sum(result.by_state.values()) == result.enrolled
    assert settled, f"still in flight after {SETTLE_S}s: {result.by_state}"
    assert result.by_state.get("unknown", 0) <= expect_unknown_max


def test_workers_killed_at_random_moments_lose_and_repeat_nothing(chaos) -> None:  # type: ignore[no-untyped-def]
    stack, _ = chaos
    rng = random.Random(7)
    workers = [stack.worker("a"), stack.worker("b")]
    stack.scheduler()
    kills = 0
    deadline = time.monotonic() + 25
    while kills < 6 and time.monotonic() < deadline:
        time.sleep(rng.uniform(0.3, 1.2))
        victim = workers.pop(rng.randrange(len(workers)))
        stack.kill9(victim)
        kills += 1
        workers.append(stack.worker(f"r{kills}"))
    assert kills >= 5
    _finish(stack, f"{kills} workers killed with SIGKILL")


def test_a_redis_restart_mid_run_loses_and_repeats_nothing(chaos) -> None:  # type: ignore[no-untyped-def]
    stack, redis = chaos
    stack.worker("a")
    stack.worker("b")
    stack.scheduler()
    time.sleep(2.0)
    redis.stop()  # every task message on the broker is gone with it
    time.sleep(2.0)
    redis.start()
    _finish(stack, "Redis restarted mid-run")


def test_postgres_connections_cut_mid_run_lose_and_repeat_nothing(chaos) -> None:  # type: ignore[no-untyped-def]
    stack, _ = chaos
    stack.worker("a")
    stack.worker("b")
    stack.scheduler()
    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    cut = 0
    with admin.connect() as conn:
        for _ in range(4):
            time.sleep(1.0)
            cut += (
                conn.execute(
                    sa.text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": stack.env["CHAOS_APP_NAME"]},
                ).scalar()
                or 0
            )
    admin.dispose()
    assert cut > 0
    _finish(stack, f"{cut} PostgreSQL connections terminated")


def test_two_schedulers_at_once_send_everything_once(chaos) -> None:  # type: ignore[no-untyped-def]
    stack, _ = chaos
    stack.worker("a")
    stack.worker("b")
    stack.scheduler("beat1")
    stack.scheduler("beat2")
    _finish(stack, "two schedulers", expect_unknown_max=0)


def test_stops_and_bookings_racing_sends_let_nothing_out_after_them(chaos) -> None:  # type: ignore[no-untyped-def]
    stack, _ = chaos
    stack.worker("a")
    stack.worker("b")
    stack.scheduler()
    rng = random.Random(11)
    stopped: list[tuple[int, datetime]] = []
    for n in rng.sample(range(PROSPECTS), 60):
        time.sleep(0.03)
        now = datetime.now(UTC)
        with session_scope() as s:
            contact = find_contact(s, email=f"p{n}@example.com")
            if n % 2:
                stop_contact(s, contact, reason="stop", now=now)
            else:
                mark_booked(s, contact, now=now, source="chaos", stop_sequences=["chaos"])
        stopped.append((contact.id, now))
    _finish(stack, f"{len(stopped)} stops and bookings during sends", expect_unknown_max=0)
    # Nothing was claimed for sending after its contact's stop committed.
    from sqlalchemy import select

    from nurture.models import Delivery, DeliveryEvent

    with session_scope() as s:
        for contact_id, at in stopped:
            late = s.scalars(
                select(Delivery.id)
                .join(DeliveryEvent, DeliveryEvent.delivery_id == Delivery.id)
                .where(
                    Delivery.contact_id == contact_id,
                    DeliveryEvent.status == "sent",
                    DeliveryEvent.at > at,
                )
            ).all()
            assert late == [], (contact_id, late)
