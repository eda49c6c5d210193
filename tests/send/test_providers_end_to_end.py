"""End to end: a real Celery worker, Redis, PostgreSQL and the fake SendGrid/Twilio server.

The worker sends through the official SDKs over HTTP; webhooks reach the API (in this
process) signed with the SDKs' own tools. The `fast` sequence: steps at 0 s, 4 s and 8 s.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.core.states import Channel, DeliveryStatus
from tests.conftest import TWILIO_FROM, midday_zone, use, use_providers, wait_for
from tests.fakes.provider import Failure, FakeProvider, delivery_id_of
from tests.helpers import deliveries, enroll, later_steps_due
from tests.signing import post_twilio

pytestmark = pytest.mark.slow

PHONE, EMAIL = "+16175550199", "robin@example.com"


@pytest.fixture
def live(
    pg_url: str,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> Iterator[TestClient]:
    """Production-shaped settings pointing at the fake providers; the API as a test client."""
    from nurture.db import upgrade

    use_providers(
        env,
        monkeypatch,
        fake_provider,
        sendgrid_key,
        database_url=pg_url,
        broker_url=redis_url,
        lease_s="10",
        dispatch_interval_s="0.5",
    )
    upgrade()
    with TestClient(create_app()) as client:
        yield client


_d = delivery_id_of


def _count(fake: FakeProvider, api: str) -> int:
    return len(fake.messages(api))  # type: ignore[arg-type]


def _inbound(client: TestClient, body: str, sid: str) -> str:
    params = {"MessageSid": sid, "From": PHONE, "To": TWILIO_FROM, "Body": body}
    response = post_twilio(client, "/webhooks/twilio/inbound", params)
    assert response.status_code == 200, response.text
    return response.text


def test_every_step_reaches_both_providers_with_the_right_headers_and_content(
    live: TestClient, fake_provider: FakeProvider, start_worker
) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    zone = midday_zone()
    enroll(datetime.now(UTC), timezone=zone)
    wait_for(lambda: len(fake_provider.messages()) == 6, timeout_s=45, message="six messages")
    rows = {d.id: d for d in deliveries()}
    assert {d.status for d in rows.values()} == {DeliveryStatus.SENT}
    for mail in fake_provider.messages("sendgrid"):
        delivery = rows[_d(mail)]
        assert delivery.channel is Channel.EMAIL
        assert delivery.provider_message_id == mail.message_id
        assert mail.to == EMAIL and mail.params["from"]["name"] == "Benjamin Friction Therapy"
        assert mail.subject and mail.text and mail.html and "style=" in mail.html
        unsubscribe = mail.headers["List-Unsubscribe"]
        assert re.fullmatch(r"<https://nurture\.test/u/[^>]+>, <mailto:[^>]+>", unsubscribe)
        assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail.custom_args == {
            "delivery_id": str(delivery.id),
            "enrollment_id": str(delivery.enrollment_id),
        }
    texts = sorted(fake_provider.messages("twilio"), key=lambda m: m.at)
    assert texts[0].text.endswith("Reply STOP to opt out")
    for sms in texts:
        delivery = rows[_d(sms)]
        assert delivery.channel is Channel.SMS and delivery.provider_message_id == sms.message_id
        assert (sms.to, sms.params["From"]) == (PHONE, TWILIO_FROM)
        assert sms.params["StatusCallback"] == (
            f"https://nurture.test/webhooks/twilio/status?d={delivery.id}"
        )
        local = datetime.fromtimestamp(sms.at, ZoneInfo(zone))
        quiet = local.replace(hour=21, minute=0, second=0, microsecond=0)
        assert 0 < int(sms.params["ValidityPeriod"]) <= (quiet - local).total_seconds() + 1
    steps = Counter((rows[_d(m)].step_id, m.api) for m in fake_provider.messages())
    assert set(steps.values()) == {1} and len(steps) == 6


def test_stop_after_the_first_step_stops_sms_while_email_goes_on(
    live: TestClient, fake_provider: FakeProvider, start_worker
) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone())
    later_steps_due(datetime.now(UTC) + timedelta(hours=1))
    wait_for(lambda: len(fake_provider.messages()) == 2, timeout_s=20, message="the first step")
    answer = _inbound(live, "Stop", "SM" + "1" * 32)
    assert answer.count("<Message>") == 1
    later_steps_due(datetime.now(UTC))
    wait_for(lambda: _count(fake_provider, "sendgrid") == 3, timeout_s=30, message="3 emails")
    time.sleep(1.5)
    assert _count(fake_provider, "twilio") == 1
    later_sms = [
        d for d in deliveries() if d.channel is Channel.SMS and d.step_id != "doctor-first"
    ]
    assert {d.status for d in later_sms} == {DeliveryStatus.SKIPPED}


def test_a_booking_stops_everything(
    live: TestClient, fake_provider: FakeProvider, start_worker
) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone())
    later_steps_due(datetime.now(UTC) + timedelta(hours=1))
    wait_for(lambda: len(fake_provider.messages()) == 2, timeout_s=20, message="the first step")
    response = live.post(
        "/v1/bookings", json={"email": EMAIL}, headers={"Authorization": "Bearer test-key"}
    )
    assert response.status_code == 200 and response.json()["deliveries_skipped"] == 4
    later_steps_due(datetime.now(UTC))
    time.sleep(4)  # eight dispatcher ticks with every skipped delivery due
    assert len(fake_provider.messages()) == 2


def test_help_gets_exactly_one_reply_and_the_sequence_goes_on(
    live: TestClient, fake_provider: FakeProvider, start_worker
) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone())
    wait_for(lambda: len(fake_provider.messages()) == 2, timeout_s=20, message="the first step")
    first = _inbound(live, "HELP", "SM" + "2" * 32)
    retried = _inbound(live, "HELP", "SM" + "2" * 32)  # Twilio retrying the same webhook
    assert first.count("<Message>") + retried.count("<Message>") == 1
    assert "Benjamin Friction Therapy" in first
    wait_for(lambda: len(fake_provider.messages()) == 6, timeout_s=30, message="all six")
    assert all(m.to in (PHONE, EMAIL) for m in fake_provider.messages())


def test_forged_webhooks_get_403_and_the_sequence_goes_on(
    live: TestClient, fake_provider: FakeProvider, start_worker
) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone())
    wait_for(lambda: len(fake_provider.messages()) == 2, timeout_s=20, message="the first step")
    params = {"MessageSid": "SM" + "3" * 32, "From": PHONE, "To": TWILIO_FROM, "Body": "STOP"}
    forged = post_twilio(live, "/webhooks/twilio/inbound", params, token="not-the-token")
    unsigned = live.post("/webhooks/sendgrid/events", json=[{"event": "unsubscribe"}])
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    wait_for(lambda: len(fake_provider.messages()) == 6, timeout_s=30, message="all six")


def test_a_429_storm_is_retried_until_each_message_went_out_exactly_once(
    live: TestClient,
    fake_provider: FakeProvider,
    start_worker,  # type: ignore[no-untyped-def]
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(env, monkeypatch, retry_base_s="0.2", retry_max_s="1")
    storm = [Failure(status=429, headers={"Retry-After": "1"}) for _ in range(12)]
    fake_provider.fail_next(*storm)
    now = datetime.now(UTC)
    for n in range(3):
        enroll(now, email=f"p{n}@example.com", phone=f"+1617555{n:04d}", timezone=midday_zone())
    start_worker(concurrency=8)
    wait_for(lambda: len(fake_provider.messages()) == 18, timeout_s=60, message="18 messages")
    time.sleep(1.5)
    assert fake_provider.pending_failures() == 0
    per_delivery = Counter(_d(m) for m in fake_provider.messages())
    assert len(per_delivery) == 18 and set(per_delivery.values()) == {1}
    rows = deliveries()
    assert {d.status for d in rows} == {DeliveryStatus.SENT}
    assert sum(d.attempts for d in rows) == 18 + 12


def test_a_timeout_after_the_provider_accepted_becomes_unknown_and_is_not_resent(
    live: TestClient,
    fake_provider: FakeProvider,
    start_worker,  # type: ignore[no-untyped-def]
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(env, monkeypatch, provider_timeout_s="1")
    fake_provider.fail_next(Failure(hang_s=3.0, api="twilio"))
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone())
    first_sms = wait_for(
        lambda: next((d for d in deliveries() if d.status is DeliveryStatus.UNKNOWN), None),
        timeout_s=20,
        message="the first SMS to become unknown",
    )
    wait_for(lambda: len(fake_provider.messages()) == 6, timeout_s=30, message="the rest")
    time.sleep(12)  # beyond a lease: nothing re-dispatches an unknown delivery
    sent_for_it = [m for m in fake_provider.messages("twilio") if _d(m) == first_sms.id]
    assert len(sent_for_it) == 1
    [row] = [d for d in deliveries() if d.id == first_sms.id]
    assert (row.status, row.error_code) == (DeliveryStatus.UNKNOWN, "no_answer")


def test_sms_from_two_workers_keep_to_the_shared_rate(
    live: TestClient,
    fake_provider: FakeProvider,
    start_worker,  # type: ignore[no-untyped-def]
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(env, monkeypatch, sms_rate="2/s")
    now = datetime.now(UTC)
    for n in range(8):
        enroll(now, email=f"r{n}@example.com", phone=f"+1617556{n:04d}", timezone=midday_zone())
    start_worker(name="a", concurrency=8)
    start_worker(name="b", concurrency=8, beat=False)
    wait_for(lambda: _count(fake_provider, "twilio") >= 8, timeout_s=60, message="8 first SMS")
    arrivals = sorted(m.at for m in fake_provider.messages("twilio"))[:8]
    # Slots are 0.5 s apart; each arrival can be late by the worker's scheduling jitter (tens
    # of ms on a busy machine), never early. So: no more than one slot's worth of tolerance
    # in any second, and the whole run takes as long as the rate says.
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= 3, arrivals
    assert arrivals[-1] - arrivals[0] >= 7 * 0.5 - 0.1, arrivals


def test_the_worker_log_holds_no_bodies_addresses_or_health_details(
    live: TestClient,
    fake_provider: FakeProvider,
    start_worker,  # type: ignore[no-untyped-def]
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    use(env, monkeypatch, log_level="DEBUG")
    worker = start_worker()
    enroll(
        datetime.now(UTC) - timedelta(seconds=5),
        timezone=midday_zone(),
        concern="fast relief for my outer hip",
        message="it hurts when I climb stairs",
    )
    wait_for(lambda: len(fake_provider.messages()) >= 4, timeout_s=30, message="two steps")
    _inbound(live, "Can I come Thursday? My hip is worse", "SM" + "4" * 32)
    time.sleep(0.5)
    captured = capsys.readouterr()
    # The API's handler may be bound to the stream pytest had when the app was built, so read
    # the records themselves as well.
    logs = worker.log() + captured.out + captured.err + caplog.text
    assert "send.sent" in logs and "inbound.applied" in logs
    secrets = ["robin@example.com", "+16175550199", "6175550199", "Robin", "outer hip", "stairs"]
    secrets += ["Thursday", "hip is worse"]
    secrets += [m.text[:30] for m in fake_provider.messages()] + [
        m.subject or "" for m in fake_provider.messages("sendgrid")
    ]
    for secret in filter(None, secrets):
        assert secret not in logs, secret
    assert "Traceback" not in logs
