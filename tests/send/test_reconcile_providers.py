"""Reconciliation through the real SendGrid and Twilio SDKs, against the fake provider's
message list and Email Activity API, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from nurture.core.clock import utcnow
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import DeliveryEvent
from nurture.dispatch.tick import dispatch_tick, expire_sending
from nurture.send.context import SendContext
from nurture.send.load import load_queued
from nurture.send.pipeline import send_delivery
from nurture.send.reconcile import Verdict, reconcile
from nurture.send.render import compose
from nurture.send.take import take_one
from tests.conftest import TWILIO_FROM, midday_zone
from tests.fakes.provider import Failure, FakeProvider, delivery_id_of
from tests.helpers import deliveries, enroll

LEASE = timedelta(seconds=300)


def _first_step(now: datetime) -> dict[Channel, int]:
    """A prospect enrolled now (the fake keeps real times), its first step claimed."""
    enroll(now, timezone=midday_zone(now))
    with session_scope() as s:
        ids = dispatch_tick(s, now=now, batch=500, lease=LEASE).claimed
    return {d.channel: d.id for d in deliveries() if d.id in ids}


def _row(delivery_id: int):  # type: ignore[no-untyped-def]
    return next(d for d in deliveries() if d.id == delivery_id)


def _last_event(delivery_id: int) -> tuple[str, str, str]:
    with session_scope() as s:
        row = s.execute(
            select(DeliveryEvent.status, DeliveryEvent.source, DeliveryEvent.detail)
            .where(DeliveryEvent.delivery_id == delivery_id)
            .order_by(DeliveryEvent.id.desc())
            .limit(1)
        ).one()
    return row[0], row[1], row[2] or ""


@pytest.mark.parametrize("failure", [Failure(hang_s=2.0), Failure(drop=True)], ids=["hang", "drop"])
def test_messages_accepted_whose_answer_was_lost_are_found_and_become_sent(
    ctx: SendContext, fake_provider: FakeProvider, failure: Failure
) -> None:
    now = utcnow()
    ids = _first_step(now)
    fake_provider.fail_next(
        Failure(hang_s=failure.hang_s, drop=failure.drop, api="sendgrid"),
        Failure(hang_s=failure.hang_s, drop=failure.drop, api="twilio"),
    )
    for delivery_id in ids.values():
        assert send_delivery(ctx, delivery_id, now=now) is DeliveryStatus.UNKNOWN
    accepted = {delivery_id_of(m): m.message_id for m in fake_provider.messages()}
    assert set(accepted) == set(ids.values())

    decisions = reconcile(ctx, now=now + timedelta(minutes=10))
    assert {d.verdict for d in decisions} == {Verdict.SENT}
    for channel, delivery_id in ids.items():
        row = _row(delivery_id)
        assert row.status is DeliveryStatus.SENT
        assert row.provider_message_id == accepted[delivery_id]
        assert row.provider == ("sendgrid" if channel is Channel.EMAIL else "twilio")
        status, source, detail = _last_event(delivery_id)
        assert (status, source) == ("sent", "reconcile")
        evidence = "matches the body hash" if channel is Channel.SMS else "activity api"
        assert evidence in detail
    assert len(fake_provider.messages()) == 2  # nothing sent again


def _stranded_before_the_call(ctx: SendContext, now: datetime) -> dict[Channel, int]:
    """Taken, then the worker died before its provider call: `unknown` once the lease ends."""
    ids = _first_step(now)
    for delivery_id in ids.values():
        [taken] = load_queued(ctx, [delivery_id]).values()
        assert take_one(ctx, taken, now, compose(ctx, taken, now).body_sha256)
    with session_scope() as s:
        assert sorted(expire_sending(s, now=now + LEASE * 2, limit=10)) == sorted(ids.values())
    return ids


def test_messages_the_providers_clearly_lack_go_out_again_exactly_once(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    now = utcnow()
    ids = _stranded_before_the_call(ctx, now)
    later = now + timedelta(minutes=10)
    decisions = reconcile(ctx, now=later)
    assert {d.verdict for d in decisions} == {Verdict.SCHEDULED}
    assert fake_provider.lookups == {"sendgrid": 1, "twilio": 1}
    assert "0 messages with this delivery_id" in _last_event(ids[Channel.EMAIL])[2]
    assert "0 listed" in _last_event(ids[Channel.SMS])[2]
    with session_scope() as s:
        again = dispatch_tick(s, now=later, batch=500, lease=LEASE).claimed
    assert set(ids.values()) <= set(again)
    for delivery_id in ids.values():
        assert send_delivery(ctx, delivery_id, now=later) is DeliveryStatus.SENT
    assert sorted(delivery_id_of(m) for m in fake_provider.messages()) == sorted(ids.values())


def test_another_message_to_the_same_number_is_not_taken_for_ours(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    now = utcnow()
    ids = _stranded_before_the_call(ctx, now)
    # Something else went to the same number from our sender that day: not our body.
    ctx.channels[Channel.SMS].client.messages.create(  # type: ignore[attr-defined]
        to="+16175550199", from_=TWILIO_FROM, body="Your appointment is at 3pm."
    )
    reconcile(ctx, now=now + timedelta(minutes=10))
    assert _row(ids[Channel.SMS]).status is DeliveryStatus.SCHEDULED
    assert "1 listed, none matches the body hash" in _last_event(ids[Channel.SMS])[2]


def test_an_account_without_the_activity_api_or_a_failing_list_cannot_tell(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    now = utcnow()
    ids = _stranded_before_the_call(ctx, now)
    fake_provider.lookup_status = {"sendgrid": 403, "twilio": 500}
    later = now + timedelta(minutes=10)
    decisions = reconcile(ctx, now=later)
    assert {d.verdict for d in decisions} == {Verdict.STAYS}
    email, sms = _row(ids[Channel.EMAIL]), _row(ids[Channel.SMS])
    assert (email.status, sms.status) == (DeliveryStatus.UNKNOWN, DeliveryStatus.UNKNOWN)
    assert _last_event(ids[Channel.EMAIL]) == (
        "unknown",
        "reconcile",
        "reconciled: cannot tell: activity api 403",
    )
    assert "cannot tell" in _last_event(ids[Channel.SMS])[2]
    # Not asked again before NURTURE_RECONCILE_EVERY_S (600 s) has passed.
    assert reconcile(ctx, now=later + timedelta(minutes=5)) == []
    assert fake_provider.lookups == {"sendgrid": 1, "twilio": 1}
    fake_provider.lookup_status = {}
    decisions = reconcile(ctx, now=later + timedelta(minutes=11))
    assert {d.verdict for d in decisions} == {Verdict.SCHEDULED}
    assert fake_provider.messages() == []
