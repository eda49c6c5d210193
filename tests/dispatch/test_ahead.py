"""A tick claims what falls due before the next one and publishes it when due, never before;
a dispatcher whose claims come back full claims again; a send handed over early is held."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from nurture.config import get_settings
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch import ahead, dispatcher
from nurture.dispatch.ahead import look_ahead, parts_by_due, publish_when_due
from nurture.dispatch.queue import celery_config
from nurture.dispatch.tick import dispatch_tick
from nurture.send.pipeline import send_delivery
from tests.conftest import use
from tests.helpers import at, deliveries, enroll, outbox, send_context

LEASE = timedelta(seconds=300)
T0 = at("2026-03-03 12:00")  # a Tuesday, noon UTC


class Clock:
    """A clock that moves only when slept on."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _record(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[tuple[datetime, list[int]]]:
    """Each publish of send tasks, with the clock's time then."""
    published: list[tuple[datetime, list[int]]] = []

    def publish(_celery: object, ids: list[int], *, chunk: int) -> None:
        published.append((clock(), list(ids)))

    monkeypatch.setattr(ahead, "publish_sends", publish)
    monkeypatch.setattr(dispatcher, "publish_sends", publish)
    return published


def _due(seconds: list[float]) -> list[tuple[int, datetime]]:
    return [(n + 1, T0 + timedelta(seconds=s)) for n, s in enumerate(seconds)]


def test_held_deliveries_are_parted_by_count_and_by_due_spread() -> None:
    held = _due([0.0, 0.01, 0.02, 0.03, 0.5, 0.55, 0.7])
    parts = parts_by_due(held, chunk=3, slice_s=0.1)
    assert [[i for i, _ in p] for p in parts] == [[1, 2, 3], [4], [5, 6], [7]]
    assert look_ahead(0.2) == timedelta(seconds=0.2)
    assert look_ahead(60) == timedelta(seconds=ahead.AHEAD_MAX_S)


def test_each_part_is_published_once_all_of_it_is_due_and_not_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(T0 - timedelta(seconds=1))
    published = _record(monkeypatch, clock)
    held = _due([-0.05, 0.0, 0.3, 0.35, 0.9])
    publish_when_due(None, held, chunk=20, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    due = dict(held)
    assert [ids for _, ids in published] == [[1, 2], [3, 4], [5]]
    for when, ids in published:
        assert all(due[i] <= when for i in ids)
        assert when == max(due[i] for i in ids)


def test_a_tick_claims_what_falls_due_before_the_next_one_apart_from_what_is_due(
    db: str,
) -> None:
    enroll(T0)  # doctor-first by email and SMS, due at T0
    with session_scope() as s:
        early = dispatch_tick(s, now=T0 - timedelta(seconds=2), batch=500, lease=LEASE)
    assert early.claimed == [] and early.ahead == []
    with session_scope() as s:
        tick = dispatch_tick(
            s, now=T0 - timedelta(seconds=0.5), batch=500, lease=LEASE, ahead=timedelta(seconds=1)
        )
    assert tick.claimed == [] and tick.to_enqueue == []
    assert [when for _, when in tick.ahead] == [T0, T0]
    queued = {d.id for d in deliveries() if d.status is DeliveryStatus.QUEUED}
    assert queued == {i for i, _ in tick.ahead}


def test_a_send_handed_over_before_its_due_time_is_held_then_sent_when_due(db: str) -> None:
    enroll(T0)
    with session_scope() as s:
        tick = dispatch_tick(
            s, now=T0 - timedelta(seconds=0.5), batch=500, lease=LEASE, ahead=timedelta(seconds=1)
        )
    ctx = send_context()
    first = tick.ahead[0][0]
    assert send_delivery(ctx, first, now=T0 - timedelta(seconds=0.1)) is DeliveryStatus.SCHEDULED
    [row] = [d for d in deliveries() if d.id == first]
    assert row.due_at == T0 and row.error_code == "not_due"
    assert outbox("email") == [] and outbox("sms") == []
    with session_scope() as s:
        again = dispatch_tick(s, now=T0, batch=500, lease=LEASE)
    assert again.claimed == [first]
    assert send_delivery(ctx, first, now=T0) is DeliveryStatus.SENT


def test_a_dispatcher_claims_again_while_its_claims_come_back_full(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, dispatch_batch="2")
    for n in range(3):
        enroll(T0, email=f"p{n}@example.com", phone=f"+1617555{n:04d}")
    clock = Clock(T0)
    published = _record(monkeypatch, clock)
    run = dispatcher.run_dispatcher
    sent = run(None, interval_s=1.0, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    ids = sorted(i for _, part in published for i in part)
    assert sent == 6 and len(ids) == 6 == len(set(ids))
    assert all(d.status is DeliveryStatus.QUEUED for d in deliveries() if d.id in ids)


def test_a_dispatcher_holds_what_it_claimed_ahead_until_due(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(T0)
    clock = Clock(T0 - timedelta(seconds=2))
    published = _record(monkeypatch, clock)
    run = dispatcher.run_dispatcher
    assert run(None, interval_s=1.0, clock=clock, sleep=clock.sleep) == 0  # type: ignore[arg-type]
    assert published == [] and {d.status for d in deliveries()} == {DeliveryStatus.SCHEDULED}
    clock.now = T0 - timedelta(seconds=0.6)
    assert run(None, interval_s=1.0, clock=clock, sleep=clock.sleep) == 2  # type: ignore[arg-type]
    [(when, ids)] = published
    assert when == T0 and len(ids) == 2


def test_beat_tells_each_tick_the_interval_until_the_next(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A worker started with another interval than beat's still claims until beat's next tick.
    use(env, monkeypatch, dispatch_interval_s="0.5")
    assert celery_config(get_settings())["beat_schedule"]["dispatch"]["args"] == (0.5,)
