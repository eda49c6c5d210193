"""Rate limits shared through Redis: every worker and thread together keep to the rate."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ec

from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch.tick import claim_due
from nurture.send.pipeline import send_delivery
from nurture.send.ratelimit import LocalRateLimiter, RedisRateLimiter, Throttle
from nurture.steering.contacts import find_contact
from nurture.steering.stop import stop_contact
from tests.conftest import midday_zone, use, use_providers
from tests.fakes.provider import FakeProvider
from tests.helpers import deliveries, enroll, send_context


@pytest.fixture
def clients(redis_url: str) -> Iterator[list[redis.Redis]]:
    made = [redis.Redis.from_url(redis_url) for _ in range(2)]
    yield made
    for client in made:
        client.close()


def test_two_processes_share_one_limit_through_redis(clients: list[redis.Redis]) -> None:
    limiters = [RedisRateLimiter(c) for c in clients]
    slots = []
    for n in range(8):
        reservation = limiters[n % 2].reserve("nurture:rate:sms:+1617", per_s=5, max_wait_s=10)
        assert reservation.granted
        slots.append(time.time() + reservation.wait_s)
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert all(abs(gap - 0.2) < 0.05 for gap in gaps), gaps


def test_redis_refuses_a_slot_beyond_the_wait_and_reserves_nothing(
    clients: list[redis.Redis],
) -> None:
    limiter = RedisRateLimiter(clients[0])
    assert limiter.reserve("k", per_s=1, max_wait_s=0.5).granted
    refused = limiter.reserve("k", per_s=1, max_wait_s=0.5)
    assert not refused.granted and 0.9 < refused.wait_s <= 1.0
    assert not limiter.reserve("k", per_s=1, max_wait_s=0.5).granted
    assert 0 < clients[0].pttl("k") <= 3000  # the key does not outlive its use


@pytest.fixture
def on_redis(
    db: str,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> str:
    use_providers(env, monkeypatch, fake_provider, sendgrid_key, broker_url=redis_url)
    return db


def _claim_all(now: datetime) -> list[int]:
    with session_scope() as s:
        return claim_due(s, now=now, limit=500, lease=timedelta(seconds=300))


def test_threads_sending_at_once_reach_twilio_no_faster_than_the_sms_rate(
    on_redis: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> None:
    use(env, monkeypatch, sms_rate="4/s")
    now = datetime.now(UTC)
    for n in range(6):
        enroll(now, email=f"p{n}@example.com", phone=f"+1617555{n:04d}", timezone=midday_zone())
    claimed = _claim_all(now)
    ids = [d.id for d in deliveries() if d.channel is Channel.SMS and d.id in claimed]
    ctx = send_context()
    threads = [
        threading.Thread(target=send_delivery, args=(ctx, i), kwargs={"now": now}) for i in ids
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    arrivals = sorted(m.at for m in fake_provider.messages("twilio"))
    assert len(arrivals) == 6
    # Slots are exactly 1/rate apart; an arrival can be late by the jitter of its call (never
    # early), so allow one slot's worth in any second, and one slot's worth off the run's
    # length (the first arrival late): six at once with no limit arrive within milliseconds.
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 4 + 1, arrivals
    assert arrivals[-1] - arrivals[0] >= 4 * 0.25, arrivals


def test_a_delivery_whose_slot_is_too_far_goes_back_to_the_dispatcher(
    on_redis: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> None:
    use(env, monkeypatch, sms_rate="1/m", lease_s="8")  # at most 2 s of waiting
    now = datetime.now(UTC)
    enroll(now, email="a@example.com", phone="+16175550001", timezone=midday_zone())
    enroll(now, email="b@example.com", phone="+16175550002", timezone=midday_zone())
    claimed = _claim_all(now)
    sms = [d.id for d in deliveries() if d.channel is Channel.SMS and d.id in claimed]
    ctx = send_context()
    outcomes = [send_delivery(ctx, i, now=now) for i in sms]
    assert outcomes == [DeliveryStatus.SENT, DeliveryStatus.SCHEDULED]
    held = next(d for d in deliveries() if d.id == sms[1])
    assert held.error_code == "rate_limited"
    assert now + timedelta(seconds=55) < held.due_at <= now + timedelta(seconds=91)
    assert len(fake_provider.messages("twilio")) == 1


def test_a_stop_that_comes_while_a_send_waits_for_its_slot_still_wins(
    on_redis: str, fake_provider: FakeProvider
) -> None:
    now = datetime.now(UTC)
    enroll(now, timezone=midday_zone())
    claimed = _claim_all(now)
    [sms] = [d.id for d in deliveries() if d.channel is Channel.SMS and d.id in claimed]

    def stop_while_waiting(seconds: float) -> None:
        with session_scope() as s:
            stop_contact(s, find_contact(s, phone="+16175550199"), reason="asked", now=now)

    limiter = LocalRateLimiter()
    limiter.reserve("nurture:rate:sms:+16175550100", per_s=1, max_wait_s=5)  # slot taken
    ctx = replace(
        send_context(),
        throttle=Throttle(
            limiter=limiter,
            rates={Channel.SMS: 1.0},
            senders={Channel.SMS: "+16175550100"},
            sleep=stop_while_waiting,
        ),
    )
    # Still `queued` while it waits (taken only after its slot), so the stop skips it itself
    # and the take that follows wins nothing.
    assert send_delivery(ctx, sms, now=now) is None
    assert fake_provider.messages("twilio") == []
    [row] = [d for d in deliveries() if d.id == sms]
    assert (row.status, row.attempts) == (DeliveryStatus.SKIPPED, 0)
