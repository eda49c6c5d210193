"""Chaos on the real stack: workers SIGKILLed mid-send, Redis restarted, PostgreSQL connections
cut, two schedulers, a provider that throttles and times out, and STOP, unsubscribe and booking
webhooks racing the sends. Each scenario ends with exact accounting at the fake providers."""

from __future__ import annotations

import os
import random
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.api import create_app
from nurture.config import get_settings
from nurture.content.links import make_unsubscribe_token
from nurture.core.states import Channel
from nurture.db import session_scope, upgrade
from nurture.db.tables import Contact, Delivery, DeliveryEvent
from nurture.send.calls import AT_ONCE
from tests.chaos.harness import (
    RedisServer,
    Stack,
    account,
    copy_schedules,
    enroll_many,
    provider_records,
    sending_now,
    wait_settled,
)
from tests.conftest import (
    IN_CI,
    PG_DSN,
    SECRET_KEY,
    TWILIO_FROM,
    midday_zone,
    use,
    use_providers,
    wait_for,
)
from tests.fakes.provider import Failure, FakeProvider
from tests.signing import post_twilio

pytestmark = pytest.mark.chaos

#: x 2 steps x 2 channels = 1,000 deliveries; NURTURE_CHAOS_PROSPECTS=500 for the issue's 2,000.
PROSPECTS = int(os.environ.get("NURTURE_CHAOS_PROSPECTS", "250"))
WORKER_THREADS = 8
SETTLE_S = 120
AUTH = {"Authorization": "Bearer test-key"}


@pytest.fixture
def chaos(
    env: dict[str, str],
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> Iterator[Stack]:
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    app_name = f"nurture_chaos_{uuid.uuid4().hex[:8]}"
    redis = RedisServer(tmp_path)
    redis.start()
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    use(
        env,
        monkeypatch,
        database_url=f"{pg_url}&application_name={app_name}",
        broker_url=redis.url,
        lease_s="5",
        dispatch_interval_s="0.5",
        retry_base_s="0.2",
        retry_max_s="2",
        send_max_attempts="30",
        schedules_dir=str(copy_schedules(tmp_path / "chaos-schedules")),
        log_level="WARNING",
        # Reconciliation is off unless a scenario turns it on (a scheduler started after).
        reconcile_interval_s="3600",
    )
    upgrade()
    enroll_many(PROSPECTS, timezone=midday_zone())
    stack = Stack(
        env=dict(env), folder=tmp_path, redis=redis, fake=fake_provider, app_name=app_name
    )
    yield stack
    stack.stop_all()
    redis.stop()


def _finish(
    stack: Stack, title: str, *, expect_unknown_max: int, expect_unknown_min: int = 0
) -> None:
    settled = wait_settled(SETTLE_S)
    result = account(provider_records(stack.fake))
    print(result.report(title))
    assert result.enrolled == PROSPECTS * 4
    assert result.duplicates == {}, "a message reached the provider twice"
    assert result.record_not_sent_or_unknown == [], "a skipped or failed message went out"
    assert result.sent_without_record == [], "a message marked sent never reached the provider"
    assert sum(result.by_state.values()) == result.enrolled
    assert settled, f"still in flight after {SETTLE_S}s: {result.by_state}"
    assert result.by_state.get("unknown", 0) <= expect_unknown_max, result.by_state
    assert result.by_state.get("unknown", 0) >= expect_unknown_min, result.by_state


def _start(stack: Stack, *, schedulers: int = 1) -> None:
    stack.worker("a", WORKER_THREADS)
    stack.worker("b", WORKER_THREADS)
    for n in range(schedulers):
        stack.scheduler(f"beat{n}")


def test_workers_killed_mid_send_lose_and_repeat_nothing(chaos: Stack) -> None:
    # With 500 ms at the provider the sends take several seconds, so every kill lands while
    # calls are in flight: between the claim and the provider call, or between the
    # provider's acceptance and our commit, the two windows that matter.
    chaos.fake.latency_s = 0.5
    rng = random.Random(7)
    workers = [chaos.worker("a", WORKER_THREADS), chaos.worker("b", WORKER_THREADS)]
    chaos.scheduler()
    # The first kill waits, however long the workers took to start on a loaded machine, until
    # both have calls in flight (more than one worker can hold): it lands mid-send, whichever
    # worker it hits. The others fall where they fall.
    in_flight = WORKER_THREADS * min(get_settings().send_chunk, AT_ONCE)
    wait_for(lambda: sending_now() > in_flight, timeout_s=300, interval_s=0.05, message="calls")
    kills = 0
    while kills < 6:
        if kills:
            time.sleep(rng.uniform(0.8, 1.6))
        victim = workers.pop(rng.randrange(len(workers)))
        chaos.kill9(victim)
        kills += 1
        workers.append(chaos.worker(f"r{kills}", WORKER_THREADS))
    chaos.fake.latency_s = 0.0
    # A kill leaves `unknown` at most what the worker had claimed and not recorded: its
    # threads' batches, whose calls are in flight together (8 threads x 10 calls at most).
    _finish(
        chaos,
        f"{kills} workers killed with SIGKILL mid-send",
        expect_unknown_max=kills * in_flight,
        expect_unknown_min=1,  # the kills did land mid-send
    )


@pytest.mark.timeout(900)
def test_workers_killed_mid_send_then_reconciled_leave_no_unknown_and_no_duplicate(
    chaos: Stack,
) -> None:
    # Issue 14's run: SendGrid and Twilio SDKs to a provider answering in 300 ms, two workers
    # SIGKILLed five times once sending; then reconciliation (on the scheduler's beat) asks the
    # provider about every `unknown` delivery left. The fake answers every lookup, so none may
    # stay `unknown`, and whatever it clearly lacks goes out again, once.
    chaos.fake.latency_s = 0.3
    rng = random.Random(14)
    workers = [chaos.worker("a", WORKER_THREADS), chaos.worker("b", WORKER_THREADS)]
    beat = chaos.scheduler()
    in_flight = WORKER_THREADS * min(get_settings().send_chunk, AT_ONCE)
    wait_for(lambda: sending_now() > in_flight, timeout_s=300, interval_s=0.05, message="calls")
    kills = 0
    while kills < 5:
        if kills:
            time.sleep(rng.uniform(0.8, 1.6))
        victim = workers.pop(rng.randrange(len(workers)))
        chaos.kill9(victim)
        kills += 1
        workers.append(chaos.worker(f"r{kills}", WORKER_THREADS))
    started = time.monotonic()
    settled = wait_settled(SETTLE_S * PROSPECTS / 250)
    assert settled, f"still in flight: {account(provider_records(chaos.fake)).by_state}"
    print(f"[chaos] settled {time.monotonic() - started:.0f} s after the last kill")
    before = account(provider_records(chaos.fake))
    unknown_before = before.by_state.get("unknown", 0)
    with session_scope() as s:
        unknown_ids = set(s.scalars(select(Delivery.id).where(Delivery.status == "unknown")))
    at_provider = unknown_ids & set(provider_records(chaos.fake))
    print(before.report(f"{kills} workers SIGKILLed mid-send, before reconciling"))
    assert before.duplicates == {}
    assert unknown_before >= 1, "the kills did not land mid-send"

    # The scheduler again, now with reconciliation every second.
    chaos.env["NURTURE_RECONCILE_INTERVAL_S"] = "1"
    beat.process.terminate()
    beat.process.wait(15)
    beat.retired = True
    chaos.scheduler("beat-reconcile")
    wait_for(
        lambda: account(provider_records(chaos.fake)).by_state.get("unknown", 0) == 0,
        timeout_s=SETTLE_S * PROSPECTS / 250,
        interval_s=1,
        message="every unknown reconciled",
    )
    _finish(chaos, f"{kills} kills, then reconciled", expect_unknown_max=0)
    after = account(provider_records(chaos.fake))
    assert after.by_state == {"sent": PROSPECTS * 4}, after.by_state
    assert after.provider_total == PROSPECTS * 4  # each once: the absent went out again
    with session_scope() as s:
        reconciled = s.execute(
            select(DeliveryEvent.delivery_id, DeliveryEvent.status).where(
                DeliveryEvent.source == "reconcile"
            )
        ).all()
    found = {i for i, status in reconciled if status == "sent"}
    again = {i for i, status in reconciled if status == "scheduled"}
    assert found == at_provider and again == unknown_ids - at_provider
    print(
        f"[chaos] reconcile: unknown before={unknown_before} (at the provider "
        f"{len(at_provider)}, not {len(unknown_ids - at_provider)}); found and sent="
        f"{len(found)}, sent again={len(again)}; unknown after=0; duplicates=0"
    )


def test_a_redis_restart_mid_run_loses_and_repeats_nothing(chaos: Stack) -> None:
    chaos.fake.latency_s = 0.02
    _start(chaos)
    # A worker may exit when its broker connection drops (kombu can fail to close a channel
    # of a connection already gone: "'NoneType' object has no attribute 'hostname'"); in
    # production the restart policy starts it again, and so does this test.
    with chaos.supervise() as restarted:
        time.sleep(2.0)
        chaos.redis.stop()  # every task message on the broker is gone with it
        time.sleep(2.0)
        chaos.redis.start()
        _finish(
            chaos,
            f"Redis restarted mid-run ({len(restarted)} processes restarted)",
            expect_unknown_max=60,
        )


def test_postgres_connections_cut_mid_run_lose_and_repeat_nothing(chaos: Stack) -> None:
    chaos.fake.latency_s = 0.02
    _start(chaos)
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
                    {"name": chaos.app_name},
                ).scalar()
                or 0
            )
    admin.dispose()
    assert cut > 0
    _finish(chaos, f"{cut} PostgreSQL connections terminated", expect_unknown_max=60)


def test_two_schedulers_at_once_send_everything_once(chaos: Stack) -> None:
    _start(chaos, schedulers=2)
    _finish(chaos, "two schedulers", expect_unknown_max=0)


def test_a_throttling_and_timing_out_provider_sends_everything_at_most_once(
    chaos: Stack,
) -> None:
    chaos.fake.fail_at_random(
        (0.15, Failure(status=429, headers={"Retry-After": "1"})),
        (0.15, Failure(status=503)),
        (0.02, Failure(hang_s=3.0)),  # accepted, then no answer within the 2 s timeout
        seed=5,
    )
    _start(chaos)
    _finish(chaos, "30% 429/503 and 2% timeouts after accepting", expect_unknown_max=60)
    result = account(provider_records(chaos.fake))
    # Every timeout after acceptance is `unknown` (reached the provider, never re-sent); every
    # other delivery went out exactly once.
    assert result.by_state.get("sent", 0) + result.by_state.get("unknown", 0) == 1000
    assert result.provider_total >= result.by_state.get("sent", 0)


def test_stop_unsubscribe_and_booking_webhooks_racing_sends_let_nothing_out_after(
    chaos: Stack,
) -> None:
    chaos.fake.latency_s = 0.02
    _start(chaos)
    rng = random.Random(11)
    took_effect: list[tuple[int, Channel | None, datetime]] = []
    with TestClient(create_app()) as api, session_scope() as s:
        contacts = {c.email: (c.id, c.phone) for c in s.scalars(select(Contact))}
        for n in rng.sample(range(PROSPECTS), 90):
            contact_id, phone = contacts[f"p{n}@example.com"]
            kind = n % 3
            if kind == 0:
                response = post_twilio(
                    api,
                    "/webhooks/twilio/inbound",
                    {
                        "MessageSid": f"SM{uuid.uuid4().hex}",
                        "From": phone or "",
                        "To": TWILIO_FROM,
                        "Body": " stop ",
                    },
                )
                channel: Channel | None = Channel.SMS
            elif kind == 1:
                token = make_unsubscribe_token(SECRET_KEY, contact_id, Channel.EMAIL)
                response = api.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
                channel = Channel.EMAIL
            else:
                response = api.post(
                    "/v1/bookings", json={"email": f"p{n}@example.com"}, headers=AUTH
                )
                channel = None
            assert response.status_code in (200, 201), response.text
            took_effect.append((contact_id, channel, datetime.now(UTC)))
            time.sleep(0.02)
    _finish(
        chaos,
        f"{len(took_effect)} STOP/unsubscribe/booking webhooks during sends",
        expect_unknown_max=0,
    )
    with session_scope() as s:
        for contact_id, channel, at in took_effect:
            query = (
                select(Delivery.id)
                .join(DeliveryEvent, DeliveryEvent.delivery_id == Delivery.id)
                .where(
                    Delivery.contact_id == contact_id,
                    DeliveryEvent.status == "sent",
                    DeliveryEvent.at > at,
                )
            )
            if channel is not None:
                query = query.where(Delivery.channel == channel)
            assert s.scalars(query).all() == [], (contact_id, channel)
