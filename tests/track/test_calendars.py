"""Bookings from the calendar: Calendly- and Cal.com-signed webhooks stop the sequence, forged
ones change nothing, replays are idempotent, strangers are recorded and ignored, and a
cancellation is recorded without restarting anything."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import BookingEvent
from tests.conftest import ApiProcess, use
from tests.ops.results_scenario import start_api
from tests.signing import (
    CALCOM_SECRET,
    CALENDLY_SIGNING_KEY,
    calcom_booking,
    calcom_request,
    calendly_invitee,
    calendly_request,
    calendly_signature,
)
from tests.track.webhook_setup import PHONE, by_step, contact, enrollment, first_step_sent, snapshot

CALENDLY = "/webhooks/calendly"
CALCOM = "/webhooks/calcom"


@pytest.fixture
def calendar_client(
    webhook_client: TestClient, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> TestClient:
    use(env, monkeypatch, calendly_signing_key=CALENDLY_SIGNING_KEY, calcom_secret=CALCOM_SECRET)
    return webhook_client


def _booking(
    provider: str, kind: str = "booked", **fields: Any
) -> tuple[str, bytes, dict[str, str]]:
    """A signed request of `provider` ("calendly" | "calcom") for a booking or cancellation."""
    if provider == "calendly":
        event = {"booked": "invitee.created", "canceled": "invitee.canceled"}[kind]
        return (CALENDLY, *calendly_request(calendly_invitee(event, **fields)))
    trigger = {
        "booked": "BOOKING_CREATED",
        "canceled": "BOOKING_CANCELLED",
        "rescheduled": "BOOKING_RESCHEDULED",
    }[kind]
    return (CALCOM, *calcom_request(calcom_booking(trigger, **fields)))


def _booking_rows() -> list[BookingEvent]:
    with session_scope() as s:
        return list(s.scalars(select(BookingEvent).order_by(BookingEvent.id)))


def _assert_stopped_by_booking() -> None:
    assert contact().booked_at is not None
    assert enrollment().status is EnrollmentStatus.STOPPED
    assert enrollment().stop_reason == "booked"
    rows = by_step()
    for channel in Channel:
        assert rows["doctor-first", channel].status is DeliveryStatus.SENT
        for later in ("self-test", "booking"):
            assert rows[later, channel].status is DeliveryStatus.SKIPPED
            assert rows[later, channel].error_code == "stopped:booked"


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_signed_booking_marks_the_prospect_booked_and_skips_every_later_message(
    calendar_client: TestClient, provider: str
) -> None:
    first_step_sent()
    path, body, headers = _booking(provider)
    response = calendar_client.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "applied": True,
        "matched": True,
        "enrollments_stopped": 1,
        "deliveries_skipped": 4,
    }
    _assert_stopped_by_booking()
    [row] = _booking_rows()
    assert (row.provider, row.kind, row.contact_id) == (provider, "booked", contact().id)
    assert row.starts_at is not None and row.starts_at.isoformat() == "2026-03-10T15:00:00+00:00"


def test_a_booking_whose_email_we_do_not_know_is_matched_by_phone(
    calendar_client: TestClient,
) -> None:
    first_step_sent()
    path, body, headers = _booking("calendly", email="someone-else@example.com", phone=PHONE)
    assert calendar_client.post(path, content=body, headers=headers).json()["matched"] is True
    _assert_stopped_by_booking()


def test_a_cal_com_reschedule_counts_as_booked(calendar_client: TestClient) -> None:
    first_step_sent()
    path, body, headers = _booking("calcom", "rescheduled", email=None, phone="(617) 555-0199")
    assert calendar_client.post(path, content=body, headers=headers).status_code == 200
    _assert_stopped_by_booking()


def _flip_last(signature: str) -> str:
    return signature[:-1] + ("0" if signature[-1] != "0" else "1")


def _forgeries(provider: str) -> list[tuple[str, bytes, dict[str, str]]]:
    path, body, headers = _booking(provider)
    name = "Calendly-Webhook-Signature" if provider == "calendly" else "X-Cal-Signature-256"
    tampered = body.replace(b"robin@example.com", b"robin@example.org")
    forged = [
        (path, body, {"Content-Type": "application/json"}),  # no signature
        (path, tampered, headers),  # body changed after signing
        (path, body, {**headers, name: _flip_last(headers[name])}),
    ]
    if provider == "calendly":
        forged.append((path, *calendly_request(calendly_invitee(), key="another-key")[0:2]))
        stale = int(time.time()) - 181  # just past the three-minute tolerance
        forged.append((path, *calendly_request(calendly_invitee(), at=stale)[0:2]))
        forged.append((path, body, {**headers, name: "v1=" + headers[name].split("v1=")[1]}))
    else:
        forged.append((path, *calcom_request(calcom_booking(), secret="another-secret")[0:2]))
    return forged


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_forged_or_stale_booking_is_refused_and_changes_nothing(
    calendar_client: TestClient, provider: str
) -> None:
    first_step_sent()
    before = snapshot()
    for path, body, headers in _forgeries(provider):
        response = calendar_client.post(path, content=body, headers=headers)
        assert response.status_code == 403, (headers, response.text)
    assert snapshot() == before
    assert _booking_rows() == []
    assert contact().booked_at is None


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_booking_is_refused_while_its_secret_is_not_configured(
    calendar_client: TestClient,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
) -> None:
    first_step_sent()
    use(env, monkeypatch, calendly_signing_key="", calcom_secret="")
    before = snapshot()
    path, body, headers = _booking(provider)
    response = calendar_client.post(path, content=body, headers=headers)
    assert response.status_code == 403
    assert "unset" in response.json()["detail"]
    assert snapshot() == before and _booking_rows() == []


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_replayed_booking_is_applied_once(calendar_client: TestClient, provider: str) -> None:
    first_step_sent()
    path, body, headers = _booking(provider)
    first = calendar_client.post(path, content=body, headers=headers).json()
    after_first = snapshot()
    booked_at = contact().booked_at
    again = calendar_client.post(path, content=body, headers=headers).json()
    assert first["applied"] is True and again["applied"] is False
    assert snapshot() == after_first
    assert contact().booked_at == booked_at
    assert len(_booking_rows()) == 1


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_booking_for_nobody_we_know_is_recorded_unmatched_and_changes_nothing_else(
    calendar_client: TestClient, provider: str
) -> None:
    first_step_sent()
    before = snapshot()
    path, body, headers = _booking(provider, email="stranger@example.net", phone="+16175550111")
    response = calendar_client.post(path, content=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["matched"] is False
    assert snapshot() == before
    [row] = _booking_rows()
    assert row.contact_id is None and row.email == "stranger@example.net"
    assert contact().booked_at is None


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_cancellation_is_recorded_and_shown_but_restarts_nothing(
    calendar_client: TestClient, provider: str
) -> None:
    first_step_sent()
    for kind in ("booked", "canceled"):
        path, body, headers = _booking(provider, kind)
        assert calendar_client.post(path, content=body, headers=headers).status_code == 200
    _assert_stopped_by_booking()
    assert [r.kind for r in _booking_rows()] == ["booked", "canceled"]
    page = calendar_client.get(
        f"/ops/contacts/{contact().id}", headers={"Authorization": "Bearer test-key"}
    )
    assert page.status_code == 200
    assert page.text.count('data-booking-kind="canceled"') == 1
    assert page.text.count('data-booking-kind="booked"') == 1


def test_a_cancellation_alone_leaves_the_sequence_running(calendar_client: TestClient) -> None:
    first_step_sent()
    path, body, headers = _booking("calendly", "canceled")
    assert calendar_client.post(path, content=body, headers=headers).json()["matched"] is True
    assert enrollment().status is EnrollmentStatus.ACTIVE
    assert contact().booked_at is None
    assert by_step()["self-test", Channel.SMS].status is DeliveryStatus.SCHEDULED


def test_a_body_that_is_not_a_booking_webhook_gets_400_and_changes_nothing(
    calendar_client: TestClient,
) -> None:
    first_step_sent()
    before = snapshot()
    for raw in (b"not json", b"[]", json.dumps({"event": "invitee.created"}).encode()):
        headers = {"Calendly-Webhook-Signature": calendly_signature(raw)}
        response = calendar_client.post(CALENDLY, content=raw, headers=headers)
        assert response.status_code == 400, raw
        assert "Calendly" in response.json()["detail"]
    assert snapshot() == before


@pytest.fixture
def api_process(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fake_provider: object,
    sendgrid_key: object,
) -> Iterator[ApiProcess]:
    from tests.conftest import use_providers

    use_providers(env, monkeypatch, fake_provider, sendgrid_key)  # type: ignore[arg-type]
    use(env, monkeypatch, calendly_signing_key=CALENDLY_SIGNING_KEY, calcom_secret=CALCOM_SECRET)
    api = start_api(env, tmp_path / "api.log")
    yield api
    api.stop()


@pytest.mark.parametrize("provider", ["calendly", "calcom"])
def test_a_signed_booking_over_http_to_a_running_api_stops_the_sequence(
    api_process: ApiProcess, provider: str
) -> None:
    first_step_sent()
    path, body, headers = _booking(provider)
    forged = {**headers, "Content-Type": "application/json"}
    forged.pop("Calendly-Webhook-Signature", None)
    forged.pop("X-Cal-Signature-256", None)
    assert httpx.post(api_process.base + path, content=body, headers=forged).status_code == 403
    assert contact().booked_at is None
    response = httpx.post(api_process.base + path, content=body, headers=headers, timeout=30)
    assert response.status_code == 200, api_process.log()
    _assert_stopped_by_booking()
