"""Claim and send as services, on SQLite and PostgreSQL, with the clock passed in."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from nurture.config import get_settings
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import Delivery, Enrollment
from nurture.dispatch.tick import claim_due, dispatch_tick
from nurture.send.pipeline import send_delivery
from nurture.steering.contacts import find_contact
from nurture.steering.stop import stop_contact
from tests.helpers import at, deliveries, enroll, outbox, read_email, read_sms, send_context

LEASE = timedelta(seconds=300)
T0 = at("2026-03-03 12:00")  # a Tuesday, noon UTC


def _tick(now):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return dispatch_tick(s, now=now, batch=500, lease=LEASE)


def _by_key() -> dict[tuple[str, str], Delivery]:
    return {(d.step_id, d.channel.value): d for d in deliveries()}


def test_due_deliveries_are_claimed_sent_and_recorded(db: str) -> None:
    enroll(T0)
    tick = _tick(T0)
    assert len(tick.claimed) == 2  # doctor-first on email and sms; the rest is in the future
    ctx = send_context()
    for delivery_id in tick.claimed:
        assert send_delivery(ctx, delivery_id, now=T0) is DeliveryStatus.SENT
    rows = _by_key()
    assert rows["doctor-first", "email"].status is DeliveryStatus.SENT
    assert rows["doctor-first", "email"].provider_message_id
    assert rows["self-test", "sms"].status is DeliveryStatus.SCHEDULED
    [eml] = outbox("email")
    message = read_email(eml)
    assert message["To"] == "robin@example.com"
    assert message["List-Unsubscribe"].startswith("<https://nurture.test/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [sms] = outbox("sms")
    assert read_sms(sms)["body"].endswith("Reply STOP to opt out")


def test_the_same_send_task_three_times_sends_once(db: str) -> None:
    enroll(T0)
    ids = _tick(T0).claimed
    ctx = send_context()
    results = [send_delivery(ctx, i, now=T0) for i in ids for _ in range(3)]
    assert results.count(DeliveryStatus.SENT) == 2
    assert results.count(None) == 4
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1


def test_concurrent_duplicate_tasks_send_once(db: str) -> None:
    enroll(T0)
    ids = _tick(T0).claimed
    ctx = send_context()
    results: list[object] = []
    threads = [
        threading.Thread(target=lambda i=i: results.append(send_delivery(ctx, i, now=T0)))
        for i in ids
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(DeliveryStatus.SENT) == 2
    assert len(outbox("email")) + len(outbox("sms")) == 2


def test_two_dispatchers_at_once_claim_each_delivery_once(db: str) -> None:
    for n in range(30):
        enroll(T0, email=f"p{n}@example.com", phone=f"+1617555{n:04d}")
    claimed: list[list[int]] = []

    def dispatcher() -> None:
        with session_scope() as s:
            claimed.append(claim_due(s, now=T0 + timedelta(seconds=20), limit=500, lease=LEASE))

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for batch in claimed for i in batch]
    assert len(everything) == len(set(everything)) == 30 * 6  # three steps due by +20s, 2 channels


def test_a_dispatcher_that_crashed_after_claiming_is_redispatched_after_the_lease(db: str) -> None:
    enroll(T0)
    lost = _tick(T0).claimed  # committed, then the process died before enqueuing
    assert _tick(T0 + LEASE - timedelta(seconds=1)).redispatched == []
    again = _tick(T0 + LEASE + timedelta(seconds=1)).redispatched
    assert sorted(again) == sorted(lost)
    ctx = send_context()
    later = T0 + LEASE + timedelta(seconds=2)
    for delivery_id in lost + again:  # the "lost" message turns up after all
        send_delivery(ctx, delivery_id, now=later)
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1


def test_a_worker_that_died_mid_send_leaves_unknown_and_nothing_is_resent(db: str) -> None:
    enroll(T0)
    ids = _tick(T0).claimed
    with session_scope() as s:  # the worker won the claim, then died
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(status=DeliveryStatus.SENDING, lease_expires_at=T0 + LEASE)
        )
    tick = _tick(T0 + LEASE + timedelta(seconds=1))
    assert sorted(tick.unknown) == sorted(ids)
    assert not set(ids) & set(tick.to_enqueue)
    ctx = send_context()
    assert [send_delivery(ctx, i, now=T0 + 2 * LEASE) for i in ids] == [None, None]
    assert outbox("email") == [] and outbox("sms") == []
    assert {d.status for d in deliveries() if d.id in ids} == {DeliveryStatus.UNKNOWN}


def test_a_stopped_prospect_gets_nothing_after_the_stop(db: str) -> None:
    enroll(T0)
    ctx = send_context()
    for i in _tick(T0).claimed:
        send_delivery(ctx, i, now=T0)
    with session_scope() as s:
        stop_contact(s, find_contact(s, email="robin@example.com"), reason="ops", now=T0)
    later = T0 + timedelta(minutes=5)
    assert _tick(later).claimed == []
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1
    statuses = {k: d.status for k, d in _by_key().items()}
    assert statuses["self-test", "email"] is DeliveryStatus.SKIPPED
    assert statuses["booking", "sms"] is DeliveryStatus.SKIPPED


def test_a_stop_after_the_claim_but_before_the_send_still_wins(db: str) -> None:
    enroll(T0)
    ids = _tick(T0).claimed  # queued, task messages on the broker
    with session_scope() as s:
        stop_contact(s, find_contact(s, phone="+1 617 555 0199"), reason="ops", now=T0)
    ctx = send_context()
    assert [send_delivery(ctx, i, now=T0) for i in ids] == [None, None]
    assert outbox("email") == [] and outbox("sms") == []


def test_a_message_that_fell_due_at_night_is_held_to_the_morning_not_dropped(db: str) -> None:
    enroll(T0, timezone="Europe/London")
    ids = _tick(T0).claimed
    night = at("2026-03-03 22:00")  # 22:00 in London: a backlog made it late
    ctx = send_context()
    for i in ids:
        send_delivery(ctx, i, now=night)
    rows = _by_key()
    # The sequence has no send window: email may go at night, SMS never does.
    assert rows["doctor-first", "email"].status is DeliveryStatus.SENT
    held = rows["doctor-first", "sms"]
    assert held.status is DeliveryStatus.SCHEDULED
    assert held.due_at == at("2026-03-04 08:00")  # the next opening of SMS hours
    assert outbox("sms") == []
    assert held.id not in _tick(at("2026-03-04 07:59")).claimed
    assert held.id in _tick(at("2026-03-04 08:00")).claimed


def test_the_booking_step_is_skipped_once_the_prospect_booked(db: str) -> None:
    enroll(T0)
    with session_scope() as s:
        contact = find_contact(s, email="robin@example.com")
        contact.booked_at = T0
        # a clinic that does not stop on booking still honours the step's `when`
        s.execute(update(Enrollment).values(sequence_id="fast"))
    ids = _tick(T0 + timedelta(seconds=10)).claimed
    ctx = send_context()
    for i in ids:
        send_delivery(ctx, i, now=T0 + timedelta(seconds=10))
    reasons = {
        (d.step_id, d.error_code) for d in deliveries() if d.status is DeliveryStatus.SKIPPED
    }
    assert ("booking", "booked") in reasons


def test_no_consent_means_no_sms(db: str) -> None:
    enroll(T0, consent_sms=False)
    ctx = send_context()
    for i in _tick(T0).claimed:
        send_delivery(ctx, i, now=T0)
    assert len(outbox("email")) == 1 and outbox("sms") == []
    with session_scope() as s:
        sms = s.scalars(
            select(Delivery).where(Delivery.channel == "sms", Delivery.step_id == "doctor-first")
        ).one()
        assert (sms.status, sms.error_code) == (DeliveryStatus.SKIPPED, "no_consent")


def test_a_step_removed_from_its_sequence_is_skipped_for_everyone_still_waiting(db: str) -> None:
    enroll(T0)
    schedules = get_settings().schedules_dir / "fast.yaml"
    text = schedules.read_text()
    start = text.index("  - id: self-test")
    schedules.write_text(text[:start] + text[text.index("  - id: booking") :])
    ctx = send_context()
    assert "self-test" not in [s.id for s in ctx.catalog.get("fast").steps]
    later = T0 + timedelta(seconds=5)
    for i in _tick(later).claimed:
        send_delivery(ctx, i, now=later)
    removed = [d for d in deliveries() if d.step_id == "self-test"]
    assert {(d.status, d.error_code) for d in removed} == {
        (DeliveryStatus.SKIPPED, "step_removed")
    }, "never failed, never sent"


def test_a_sequence_removed_is_skipped_for_everyone_still_waiting(db: str) -> None:
    enroll(T0)
    with session_scope() as s:
        s.execute(update(Enrollment).values(sequence_id="removed-in-the-studio"))
    later = T0 + timedelta(seconds=5)
    ctx = send_context()
    for i in _tick(later).claimed:
        send_delivery(ctx, i, now=later)
    waiting = [d for d in deliveries() if d.status is not DeliveryStatus.SCHEDULED]
    assert waiting and {(d.status, d.error_code) for d in waiting} == {
        (DeliveryStatus.SKIPPED, "sequence_removed")
    }
    assert outbox("email") == [] and outbox("sms") == []
