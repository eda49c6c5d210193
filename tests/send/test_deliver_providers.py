"""Sending through SendGrid and Twilio (the fake): what each provider answer does to a delivery.

Services with the clock passed in, on SQLite and PostgreSQL; the real SDKs over real HTTP.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import ConsentEvent, Contact, Delivery, Suppression
from nurture.dispatch.tick import dispatch_tick
from nurture.send.context import SendContext
from nurture.send.pipeline import send_deliveries, send_delivery
from tests.conftest import use
from tests.fakes.provider import Failure, FakeProvider
from tests.helpers import at, deliveries, enroll, send_context

T0 = at("2026-03-03 12:00")
LEASE = timedelta(seconds=300)


def _tick(now):  # type: ignore[no-untyped-def]
    with session_scope() as s:
        return dispatch_tick(s, now=now, batch=500, lease=LEASE)


def _row(step: str, channel: Channel) -> Delivery:
    return next(d for d in deliveries() if d.step_id == step and d.channel is channel)


def _send_first_step(ctx: SendContext) -> dict[Channel, DeliveryStatus | None]:
    enroll(T0)
    return {_by_id(i).channel: send_delivery(ctx, i, now=T0) for i in _tick(T0).claimed}


def _by_id(delivery_id: int) -> Delivery:
    return next(d for d in deliveries() if d.id == delivery_id)


def test_accepted_messages_are_sent_with_the_providers_ids(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    outcome = _send_first_step(ctx)
    assert outcome == {Channel.EMAIL: DeliveryStatus.SENT, Channel.SMS: DeliveryStatus.SENT}
    email, sms = _row("doctor-first", Channel.EMAIL), _row("doctor-first", Channel.SMS)
    [mail] = fake_provider.messages("sendgrid")
    [text] = fake_provider.messages("twilio")
    assert (email.provider, email.provider_message_id) == ("sendgrid", mail.message_id)
    assert (sms.provider, sms.provider_message_id) == ("twilio", text.message_id)


def test_twilio_21610_fails_the_sms_suppresses_the_number_and_records_the_opt_out(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(status=400, code=21610, api="twilio", message="unsubscribed"))
    _send_first_step(ctx)
    sms = _row("doctor-first", Channel.SMS)
    assert (sms.status, sms.error_code) == (DeliveryStatus.FAILED, "21610")
    assert _row("self-test", Channel.SMS).status is DeliveryStatus.SKIPPED
    assert _row("self-test", Channel.EMAIL).status is DeliveryStatus.SCHEDULED
    with session_scope() as s:
        assert [(x.channel, x.reason) for x in s.scalars(select(Suppression))] == [
            (Channel.SMS, "opt_out")
        ]
        entry = s.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
        assert entry is not None
        assert (entry.channel, entry.action, entry.source) == (Channel.SMS, "opt_out", "provider")
        assert entry.evidence["code"] == "21610"
        assert s.scalar(select(Contact.consent_sms)) is False


@pytest.mark.parametrize("code", [21211, 21614, 21635])
def test_a_number_twilio_calls_unusable_is_suppressed_with_the_code(
    ctx: SendContext, fake_provider: FakeProvider, code: int
) -> None:
    fake_provider.fail_next(Failure(status=400, code=code, api="twilio", message="not a mobile"))
    _send_first_step(ctx)
    assert _row("doctor-first", Channel.SMS).status is DeliveryStatus.FAILED
    assert _row("booking", Channel.SMS).status is DeliveryStatus.SKIPPED
    with session_scope() as s:
        assert [x.reason for x in s.scalars(select(Suppression))] == [f"unusable:twilio:{code}"]
        assert s.scalar(select(Contact.consent_sms)) is True  # not an opt-out


def test_sendgrid_refusing_a_mail_fails_it_with_sendgrids_message(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(status=400, api="sendgrid", message="Invalid from address"))
    _send_first_step(ctx)
    email = _row("doctor-first", Channel.EMAIL)
    assert (email.status, email.error_code) == (DeliveryStatus.FAILED, "400")
    assert "Invalid from address" in (email.error_detail or "")


def test_a_429_waits_at_least_its_retry_after_then_goes_out_once(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(status=429, api="sendgrid", headers={"Retry-After": "30"}))
    _send_first_step(ctx)
    email = _row("doctor-first", Channel.EMAIL)
    assert email.status is DeliveryStatus.RETRYING
    assert email.due_at >= T0 + timedelta(seconds=30)
    assert email.id not in _tick(T0 + timedelta(seconds=29)).claimed
    later = email.due_at
    assert email.id in _tick(later).claimed
    assert send_delivery(ctx, email.id, now=later) is DeliveryStatus.SENT
    assert len(fake_provider.messages("sendgrid")) == 1
    assert _row("doctor-first", Channel.EMAIL).attempts == 2


def test_a_provider_busy_past_the_last_attempt_fails_the_message(
    ctx: SendContext,
    fake_provider: FakeProvider,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(env, monkeypatch, send_max_attempts="2", retry_base_s="1", retry_max_s="1")
    ctx = send_context()
    fake_provider.fail_next(*[Failure(status=503, api="twilio") for _ in range(2)])
    _send_first_step(ctx)
    sms = _row("doctor-first", Channel.SMS)
    assert sms.status is DeliveryStatus.RETRYING
    _tick(sms.due_at)
    assert send_delivery(ctx, sms.id, now=sms.due_at) is DeliveryStatus.FAILED
    assert "retries spent" in (_row("doctor-first", Channel.SMS).error_detail or "")
    assert fake_provider.messages("twilio") == []


def test_a_timeout_after_the_provider_accepted_leaves_it_unknown_and_it_is_never_resent(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(hang_s=2.0, api="twilio"))
    outcome = _send_first_step(ctx)
    assert outcome[Channel.SMS] is DeliveryStatus.UNKNOWN
    sms = _row("doctor-first", Channel.SMS)
    assert sms.error_code == "no_answer"
    much_later = T0 + LEASE * 3
    tick = _tick(much_later)
    assert sms.id not in tick.to_enqueue
    assert send_delivery(ctx, sms.id, now=much_later) is None  # a stray task wins nothing
    assert len(fake_provider.messages("twilio")) == 1


def _claim_batch(prospects: int) -> list[int]:
    for n in range(prospects):
        enroll(T0, email=f"batch{n}@example.com", phone=f"+1617555{n:04d}")
    return _tick(T0).claimed


# Six calls of 0.4 s at once, the fake server in this process: a loaded machine can stretch
# one past the module's 1 s timeout (made `unknown`); what is tested is the overlap.
@pytest.mark.parametrize("provider_settings", [{"provider_timeout_s": "5"}])
def test_a_batch_makes_its_provider_calls_at_once(
    provider_settings: dict[str, str], ctx: SendContext, fake_provider: FakeProvider
) -> None:
    ids = _claim_batch(3)
    fake_provider.latency_s = 0.4
    statuses = send_deliveries(ctx, ids, clock=lambda: T0)
    assert statuses == [DeliveryStatus.SENT] * 6
    arrived = [m.at for m in fake_provider.messages()]
    assert len(arrived) == 6
    # One after another, the six would arrive at least 0.4 s apart.
    assert max(arrived) - min(arrived) < 0.4, arrived


def test_each_call_of_a_batch_gets_its_own_answer(
    ctx: SendContext, fake_provider: FakeProvider
) -> None:
    ids = _claim_batch(2)
    fake_provider.fail_next(
        Failure(status=400, code=21610, api="twilio", message="unsubscribed"),
        Failure(status=429, api="sendgrid", headers={"Retry-After": "30"}),
    )
    statuses = dict(zip(ids, send_deliveries(ctx, ids, clock=lambda: T0), strict=True))
    rows = {d.id: d for d in deliveries() if d.id in statuses}
    by_channel = {
        channel: sorted(statuses[i] for i in ids if rows[i].channel is channel)
        for channel in Channel
    }
    assert by_channel == {
        Channel.EMAIL: sorted([DeliveryStatus.SENT, DeliveryStatus.RETRYING]),
        Channel.SMS: sorted([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
    }
    for i in ids:
        assert rows[i].status is statuses[i]
    sent = {rows[i].provider_message_id for i in ids if statuses[i] is DeliveryStatus.SENT}
    assert sent == {m.message_id for m in fake_provider.messages()}
    retry = next(rows[i] for i in ids if statuses[i] is DeliveryStatus.RETRYING)
    assert retry.due_at >= T0 + timedelta(seconds=30)
    with session_scope() as s:
        assert s.scalar(select(Suppression.address)) is not None
