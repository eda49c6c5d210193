"""A scripted scenario for the results report, played through the real paths: intake, the
dispatcher and the send path (to the fake SendGrid and Twilio, at pinned times in the past),
then, over HTTP to a running `nurture api` (at its real clock, days later), a booking-link
click (`GET /b/{token}`), a signed inbound SMS reply and STOP, signed Twilio status
callbacks, and signed Calendly and Cal.com bookings. `EXPECTED` is what the report must say.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from nurture.content.links import make_booking_token
from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import Contact, Delivery
from nurture.dispatch.tick import dispatch_tick
from nurture.send.pipeline import send_delivery
from tests.conftest import SECRET_KEY, ApiProcess, midday_zone, use, use_providers, wait_for
from tests.fakes.provider import FakeProvider
from tests.helpers import enroll, send_context
from tests.signing import (
    CALCOM_SECRET,
    CALENDLY_SIGNING_KEY,
    calcom_booking,
    calcom_request,
    calendly_invitee,
    calendly_request,
    twilio_signature,
)

SEQUENCE_ID = "results-demo"
SEQUENCE = f"""
id: {SEQUENCE_ID}
name: Results demo follow-up
match: {{concern: [results]}}
stop_on: [booked, unsubscribed]
steps:
  - id: doctor-first
    after: 0s
    channels: [email, sms]
    template: hip-pain/doctor-first
  - id: self-test
    after: 1d
    channels: [email, sms]
    template: hip-pain/self-test
  - id: booking
    after: 2d
    channels: [email, sms]
    template: hip-pain/booking
"""
PROSPECTS = {
    "alice": ("alice@example.com", "+16175550101"),
    "bob": ("bob@example.com", "+16175550102"),
    "carol": ("carol@example.com", "+16175550103"),
    "dan": ("dan@example.com", "+16175550104"),
}
ZERO = {
    "sent": 0,
    "delivered": 0,
    "bounced": 0,
    "clicks": 0,
    "replies": 0,
    "opt_outs": 0,
    "bookings": 0,
}
#: Per (step, channel): what the scenario below must produce.
EXPECTED_STEPS: dict[tuple[str, str], dict[str, int]] = {
    # Four prospects got the first step; Alice clicked its email's link; Dan's SMS arrived;
    # Alice booked after it (her SMS went a minute after her email: the last before booking).
    ("doctor-first", "email"): {**ZERO, "sent": 4, "clicks": 1},
    ("doctor-first", "sms"): {**ZERO, "sent": 4, "delivered": 1, "bookings": 1},
    # Alice had booked, so three got the second; Carol clicked its email's link.
    ("self-test", "email"): {**ZERO, "sent": 3, "clicks": 1},
    # Dan's text was undelivered; Bob replied to it, then sent STOP; Carol booked after it.
    ("self-test", "sms"): {
        **ZERO,
        "sent": 3,
        "bounced": 1,
        "replies": 1,
        "opt_outs": 1,
        "bookings": 1,
    },
    ("booking", "email"): dict(ZERO),
    ("booking", "sms"): dict(ZERO),
}
EXPECTED_SEQUENCE = {"id": SEQUENCE_ID, "enrolled": 4, "booked": 2, "conversion": 0.5}
#: Both bookings come three days (and the seconds the scenario takes) after enrolling.
EXPECTED_MEDIAN_DAYS = 3.0


def add_sequence(schedules_dir: Path) -> None:
    (schedules_dir / f"{SEQUENCE_ID}.yaml").write_text(SEQUENCE)


def _deliveries() -> dict[tuple[str, str, Channel], Delivery]:
    """Every delivery by (prospect's name, step, channel)."""
    with session_scope() as s:
        names = {c.id: (c.email or "").split("@")[0] for c in s.scalars(select(Contact))}
        return {(names[d.contact_id], d.step_id, d.channel): d for d in s.scalars(select(Delivery))}


def _send_due(at: datetime) -> None:
    """Claim what is due at `at`; send the emails at `at` and the texts a minute later."""
    with session_scope() as s:
        ids = dispatch_tick(s, now=at, batch=100, lease=timedelta(minutes=5)).claimed
    ctx = send_context()
    rows = {d.id: d for d in _deliveries().values()}
    for delivery_id in sorted(ids):
        later = rows[delivery_id].channel is Channel.SMS
        send_delivery(ctx, delivery_id, now=at + timedelta(minutes=1 if later else 0))


def _twilio(client: httpx.Client, path: str, params: dict[str, str], query: str = "") -> int:
    target = f"{path}?{query}" if query else path
    signature = twilio_signature(f"https://nurture.test{target}", params)
    response = client.post(target, data=params, headers={"X-Twilio-Signature": signature})
    return response.status_code


def _text(client: httpx.Client, sender: str, body: str, sid: str) -> None:
    params = {
        "MessageSid": sid,
        "AccountSid": "AC" + "5" * 32,
        "From": sender,
        "To": "+16175550100",
        "Body": body,
    }
    assert _twilio(client, "/webhooks/twilio/inbound", params) == 200


def _status(client: httpx.Client, delivery: Delivery, status: str) -> None:
    params = {
        "MessageSid": delivery.provider_message_id or "",
        "MessageStatus": status,
        "AccountSid": "AC" + "5" * 32,
        "To": "+1",
    }
    assert _twilio(client, "/webhooks/twilio/status", params, f"d={delivery.id}") == 204


def _click(client: httpx.Client, delivery: Delivery) -> None:
    token = make_booking_token(SECRET_KEY, delivery.contact_id, delivery.id)
    assert client.get(f"/b/{token}", follow_redirects=False).status_code == 302


def play(base_url: str) -> datetime:
    """Play the scenario against the API at `base_url`; returns when enrollment started."""
    started = utcnow().replace(microsecond=0) - timedelta(days=3)
    zone = midday_zone(started)
    for name, (email, phone) in PROSPECTS.items():
        enroll(
            started,
            first_name=name.title(),
            email=email,
            phone=phone,
            concern="results",
            timezone=zone,
        )
    _send_due(started + timedelta(minutes=1))
    rows = _deliveries()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        _click(client, rows["alice", "doctor-first", Channel.EMAIL])
        body, headers = calendly_request(calendly_invitee(email=PROSPECTS["alice"][0]))
        assert client.post("/webhooks/calendly", content=body, headers=headers).json()["applied"]
        _send_due(started + timedelta(days=1, minutes=1))
        rows = _deliveries()
        _text(client, PROSPECTS["bob"][1], "Can I come on Tuesday?", "SM" + "b" * 32)
        _text(client, PROSPECTS["bob"][1], "STOP", "SM" + "c" * 32)
        _click(client, rows["carol", "self-test", Channel.EMAIL])
        body, headers = calcom_request(calcom_booking(email=PROSPECTS["carol"][0]))
        assert client.post("/webhooks/calcom", content=body, headers=headers).json()["applied"]
        _status(client, rows["dan", "doctor-first", Channel.SMS], "delivered")
        _status(client, rows["dan", "self-test", Channel.SMS], "undelivered")
    return started


def check_json(report: dict[str, Any]) -> None:
    """The report's JSON says exactly what the scenario did."""
    [seq] = [s for s in report["sequences"] if s["id"] == SEQUENCE_ID]
    assert {k: seq[k] for k in EXPECTED_SEQUENCE} == EXPECTED_SEQUENCE
    assert round(seq["median_days_to_booking"], 1) == EXPECTED_MEDIAN_DAYS
    assert [s["id"] for s in seq["steps"]] == ["doctor-first", "self-test", "booking"]
    for step in seq["steps"]:
        channels = {c["channel"]: c for c in step["channels"]}
        assert list(channels) == ["email", "sms"]
        for channel, figures in channels.items():
            expected = EXPECTED_STEPS[step["id"], channel]
            assert {k: figures[k] for k in ZERO} == expected, (step["id"], channel)
        for name in ZERO:
            assert step[name] == sum(c[name] for c in channels.values()), (step["id"], name)


def start_api(env: dict[str, str], log_path: Path) -> ApiProcess:
    """`nurture api` started and answering, allowing a loaded machine two minutes; stopped
    again if it never answers."""
    api = ApiProcess(env, log_path)

    def up() -> bool:
        try:
            return httpx.get(f"{api.base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            assert api.process.poll() is None, api.log()
            return False

    try:
        wait_for(up, timeout_s=120, message="the API to answer /healthz")
    except BaseException:
        api.stop()
        raise
    return api


@pytest.fixture
def results_api(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    schedules_dir: Path,
    fake_provider: FakeProvider,
    sendgrid_key: ec.EllipticCurvePrivateKey,
) -> Iterator[ApiProcess]:
    """`nurture api` with the fake providers, the calendar secrets and the demo sequence."""
    add_sequence(schedules_dir)
    use_providers(env, monkeypatch, fake_provider, sendgrid_key)
    use(env, monkeypatch, calendly_signing_key=CALENDLY_SIGNING_KEY, calcom_secret=CALCOM_SECRET)
    api = start_api(env, tmp_path / "api.log")
    yield api
    api.stop()
