"""Sends load a batch first (`load.load_queued`), then take each delivery right before its
call (`take.take_one`): whatever changes between the load and the take is still honoured,
on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from nurture.core.clock import utcnow
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Contact, Enrollment, Suppression
from nurture.dispatch.tick import dispatch_tick
from nurture.send import pipeline
from nurture.send.context import SendContext
from nurture.send.load import load, load_queued
from nurture.send.pipeline import send_deliveries
from nurture.send.take import take_one, take_together
from nurture.send.taken import Taken
from nurture.send.verdict import Go, verdict
from nurture.steering.contacts import find_contact
from nurture.steering.stop import stop_contact
from tests.helpers import at, deliveries, enroll, outbox, send_context

T0 = at("2026-03-03 12:00")  # a Tuesday, noon UTC


def _claimed_ids() -> dict[str, int]:
    with session_scope() as s:
        ids = dispatch_tick(s, now=T0, batch=500, lease=timedelta(seconds=300)).claimed
    return {d.channel.value: d.id for d in deliveries() if d.id in ids}


def take_many(
    ctx: SendContext, ahead: list[Taken], now: datetime, *, together: bool = False
) -> set[int]:
    """Take each delivery that may go as read, as a batch does: each right before its call
    (`take_one`), or all at once for local calls (`take_together`)."""
    going = [c for c in ahead if isinstance(verdict(c, now, ctx), Go)]
    if together:
        return take_together(ctx, [(c, f"hash-{c.delivery.id}") for c in going], now)
    return {c.delivery.id for c in going if take_one(ctx, c, now, f"hash-{c.delivery.id}")}


def _after_the_load(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> list[list[int]]:
    """Make `change` right after the batch's first load, before any take, as a race would;
    the ids each load read."""
    real = pipeline.load_queued
    loads: list[list[int]] = []

    def loading(ctx: SendContext, ids: Sequence[int]) -> dict[int, Taken]:
        rows = real(ctx, ids)
        if not loads:
            change()
        loads.append(list(ids))
        return rows

    monkeypatch.setattr(pipeline, "load_queued", loading)
    return loads


def _status(delivery_id: int) -> tuple[DeliveryStatus, str | None]:
    row = next(d for d in deliveries() if d.id == delivery_id)
    return row.status, row.error_code


def test_a_batch_read_ahead_twice_sends_each_delivery_once(db: str) -> None:
    enroll(T0)
    ids = list(_claimed_ids().values())
    ctx = send_context()
    first = send_deliveries(ctx, ids, clock=lambda: T0)
    again = send_deliveries(ctx, ids, clock=lambda: T0)
    assert first == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert again == [None, None]
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1


def test_a_suppression_added_after_the_load_still_stops_the_sms(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()

    def suppress() -> None:
        with session_scope() as s:  # written without touching the deliveries, as a race would
            s.add(Suppression(channel=Channel.SMS, address="+16175550199", reason="x", source="t"))

    loads = _after_the_load(monkeypatch, suppress)
    sms, email = send_deliveries(ctx, [ids["sms"], ids["email"]], clock=lambda: T0)
    assert (sms, email) == (DeliveryStatus.SKIPPED, DeliveryStatus.SENT)
    assert loads == [[ids["sms"], ids["email"]], [ids["sms"]]]  # read again, it is skipped
    assert _status(ids["sms"]) == (DeliveryStatus.SKIPPED, "suppressed")
    assert outbox("sms") == []


def test_consent_withdrawn_after_the_load_is_honoured(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()

    def withdraw() -> None:
        with session_scope() as s:
            s.execute(update(Contact).values(consent_email=False))

    _after_the_load(monkeypatch, withdraw)
    assert send_deliveries(ctx, [ids["email"]], clock=lambda: T0) == [DeliveryStatus.SKIPPED]
    assert _status(ids["email"]) == (DeliveryStatus.SKIPPED, "no_consent")
    assert outbox("email") == []


def test_an_enrollment_paused_after_the_load_sends_nothing(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()

    def pause() -> None:
        with session_scope() as s:
            s.execute(update(Enrollment).values(status=EnrollmentStatus.PAUSED))

    _after_the_load(monkeypatch, pause)
    results = send_deliveries(ctx, list(ids.values()), clock=lambda: T0)
    assert results == [DeliveryStatus.SCHEDULED, DeliveryStatus.SCHEDULED]  # held
    assert all(_status(i)[0] is not DeliveryStatus.SENT for i in ids.values())
    assert outbox("email") == [] and outbox("sms") == []


def test_a_stop_after_the_load_wins(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()

    def stop() -> None:
        with session_scope() as s:
            stop_contact(s, find_contact(s, phone="+1 617 555 0199"), reason="ops", now=utcnow())

    _after_the_load(monkeypatch, stop)
    assert send_deliveries(ctx, list(ids.values()), clock=lambda: T0) == [None, None]
    assert outbox("email") == [] and outbox("sms") == []


def test_loading_a_delivery_reads_its_checks_without_claiming_it(db: str) -> None:
    enroll(T0)
    ids = _claimed_ids()
    with session_scope() as s:
        s.add(Suppression(channel=Channel.SMS, address="+16175550199", reason="x", source="t"))
    with session_scope() as s:
        sms = load(s, send_context(), ids["sms"])
    assert sms.suppressed and sms.consent and sms.contact.phone == "+16175550199"
    assert _status(ids["sms"]) == (DeliveryStatus.QUEUED, None)


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "together"])
def test_a_batch_claim_wins_only_the_deliveries_that_may_still_go(db: str, together: bool) -> None:
    for n in range(4):
        enroll(T0, email=f"p{n}@example.com", phone=f"+1617555{n:04d}")
    with session_scope() as s:
        ids = dispatch_tick(s, now=T0, batch=500, lease=timedelta(seconds=300)).claimed
    rows = {(d.contact_id, d.channel): d.id for d in deliveries() if d.id in ids}
    people = sorted({contact for contact, _ in rows})
    assert len(rows) == 8 and len(people) == 4
    ctx = send_context()
    ahead = load_queued(ctx, ids)
    with session_scope() as s:  # after the load, before the take
        s.add(Suppression(channel=Channel.SMS, address="+16175550001", reason="x", source="t"))
        s.execute(update(Contact).where(Contact.id == people[2]).values(consent_email=False))
        s.execute(update(Contact).where(Contact.id == people[3]).values(email="new@example.com"))
    won = take_many(ctx, list(ahead.values()), T0, together=together)
    assert won == {
        rows[people[0], Channel.EMAIL],
        rows[people[0], Channel.SMS],
        rows[people[1], Channel.EMAIL],
        rows[people[2], Channel.SMS],
        rows[people[3], Channel.SMS],
    }
    for delivery in deliveries():
        if delivery.id in won:
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENDING, 1)
            # The take records the attempt's start and its message's hash, for reconciling.
            assert delivery.attempted_at == T0
            assert delivery.body_sha256 == f"hash-{delivery.id}"
        elif delivery.id in ids:
            assert delivery.status is DeliveryStatus.QUEUED
    # The same load again wins nothing: the won ones are `sending`, the others still
    # fail a check; read afresh, the email to the new address may go.
    assert take_many(ctx, list(ahead.values()), T0, together=together) == set()
    again = take_many(ctx, list(load_queued(ctx, ids).values()), T0, together=together)
    assert again == {rows[people[3], Channel.EMAIL]}
