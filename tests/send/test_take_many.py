"""Sends read ahead in batches (`take.preload`, then `take.take_one` right before each call):
whatever changes between the read-ahead and the take is still honoured, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from nurture.core.clock import utcnow
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Contact, Enrollment, Suppression
from nurture.dispatch.tick import dispatch_tick
from nurture.send.batch import send_deliveries
from nurture.send.context import SendContext
from nurture.send.deliver import send_delivery
from nurture.send.take import Taken, load, may_go_as_read, preload, take_one, take_together
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
    going = [c for c in ahead if may_go_as_read(ctx, c, now)]
    if together:
        return take_together(ctx, [(c, f"hash-{c.delivery.id}") for c in going], now)
    return {c.delivery.id for c in going if take_one(ctx, c, now, f"hash-{c.delivery.id}")}


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


def test_a_suppression_added_after_the_read_ahead_still_stops_the_sms(db: str) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()
    ahead = preload(ctx, list(ids.values()))
    with session_scope() as s:  # written without touching the deliveries, as a race would
        s.add(Suppression(channel=Channel.SMS, address="+16175550199", reason="x", source="t"))
    sms = send_delivery(ctx, ids["sms"], now=T0, preloaded=ahead[ids["sms"]])
    email = send_delivery(ctx, ids["email"], now=T0, preloaded=ahead[ids["email"]])
    assert (sms, email) == (DeliveryStatus.SKIPPED, DeliveryStatus.SENT)
    assert _status(ids["sms"]) == (DeliveryStatus.SKIPPED, "suppressed")
    assert outbox("sms") == []


def test_consent_withdrawn_after_the_read_ahead_is_honoured(db: str) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()
    ahead = preload(ctx, list(ids.values()))
    with session_scope() as s:
        s.execute(update(Contact).values(consent_email=False))
    assert send_delivery(ctx, ids["email"], now=T0, preloaded=ahead[ids["email"]]) is (
        DeliveryStatus.SKIPPED
    )
    assert _status(ids["email"]) == (DeliveryStatus.SKIPPED, "no_consent")
    assert outbox("email") == []


def test_an_enrollment_paused_after_the_read_ahead_sends_nothing(db: str) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()
    ahead = preload(ctx, list(ids.values()))
    with session_scope() as s:
        s.execute(update(Enrollment).values(status=EnrollmentStatus.PAUSED))
    results = [send_delivery(ctx, i, now=T0, preloaded=ahead[i]) for i in ids.values()]
    assert DeliveryStatus.SENT not in results
    assert all(_status(i)[0] is not DeliveryStatus.SENT for i in ids.values())
    assert outbox("email") == [] and outbox("sms") == []


def test_a_stop_after_the_read_ahead_wins(db: str) -> None:
    enroll(T0)
    ids = _claimed_ids()
    ctx = send_context()
    ahead = preload(ctx, list(ids.values()))
    with session_scope() as s:
        stop_contact(s, find_contact(s, phone="+1 617 555 0199"), reason="ops", now=utcnow())
    assert [send_delivery(ctx, i, now=T0, preloaded=ahead[i]) for i in ids.values()] == [
        None,
        None,
    ]
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
    ahead = preload(ctx, ids)
    with session_scope() as s:  # after the read-ahead, before the claim
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
    # The same read-ahead again wins nothing: the won ones are `sending`, the others still
    # fail a check; read afresh, the email to the new address may go.
    assert take_many(ctx, list(ahead.values()), T0, together=together) == set()
    again = take_many(ctx, list(preload(ctx, ids).values()), T0, together=together)
    assert again == {rows[people[3], Channel.EMAIL]}
