"""Unsubscribe links (RFC 8058 one-click), booking links, and `POST /v1/bookings`."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from nurture.content.links import make_booking_token, make_unsubscribe_token
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import DeliveryEvent
from tests.conftest import SECRET_KEY
from tests.track.webhook_setup import (
    EMAIL,
    PHONE,
    by_step,
    consent_events,
    contact,
    enrollment,
    first_step_sent,
    snapshot,
    suppressions,
)

AUTH = {"Authorization": "Bearer test-key"}
ONE_CLICK = {"Content-Type": "application/x-www-form-urlencoded"}


def _unsubscribe_path(channel: Channel = Channel.EMAIL) -> str:
    return f"/u/{make_unsubscribe_token(SECRET_KEY, contact().id, channel)}"


def test_the_unsubscribe_page_asks_first_and_changes_nothing(webhook_client: TestClient) -> None:
    first_step_sent()
    before = snapshot()
    response = webhook_client.get(_unsubscribe_path())
    assert response.status_code == 200
    assert 'method="post"' in response.text and "r***@example.com" in response.text
    assert EMAIL not in response.text
    assert snapshot() == before


def test_one_click_unsubscribe_stops_email_at_once_and_sms_goes_on(
    webhook_client: TestClient,
) -> None:
    first_step_sent()
    response = webhook_client.post(
        _unsubscribe_path(),
        content="List-Unsubscribe=One-Click",
        headers={**ONE_CLICK, "User-Agent": "MailClient/1.0"},
    )
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    rows = by_step()
    assert rows["self-test", Channel.EMAIL].status is DeliveryStatus.SKIPPED
    assert rows["booking", Channel.EMAIL].status is DeliveryStatus.SKIPPED
    assert rows["self-test", Channel.SMS].status is DeliveryStatus.SCHEDULED
    assert [(s.channel, s.address, s.reason) for s in suppressions()] == [
        (Channel.EMAIL, EMAIL, "opt_out")
    ]
    entry = consent_events()[-1]
    assert (entry.channel, entry.action, entry.source) == (Channel.EMAIL, "opt_out", "link")
    assert entry.evidence["one_click"] is True
    assert entry.evidence["user_agent"] == "MailClient/1.0"


def test_the_pages_own_button_unsubscribes_too(webhook_client: TestClient) -> None:
    first_step_sent()
    response = webhook_client.post(
        _unsubscribe_path(Channel.SMS), data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200 and "text messages" in response.text
    assert [(s.channel, s.address) for s in suppressions()] == [(Channel.SMS, PHONE)]


def test_a_tampered_unsubscribe_link_changes_nothing(webhook_client: TestClient) -> None:
    first_step_sent()
    before = snapshot()
    path = _unsubscribe_path()[:-3] + "xyz"
    assert webhook_client.get(path).status_code == 404
    assert (
        webhook_client.post(
            path, content="List-Unsubscribe=One-Click", headers=ONE_CLICK
        ).status_code
        == 404
    )
    assert snapshot() == before


def test_a_booking_link_records_the_click_and_redirects_to_the_booking_page(
    webhook_client: TestClient,
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    token = make_booking_token(SECRET_KEY, contact().id, email.id)
    response = webhook_client.get(f"/b/{token}", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"] == "https://change-me.example/CHANGE-ME/book"
    with session_scope() as s:
        clicks = list(s.scalars(select(DeliveryEvent).where(DeliveryEvent.source == "link")))
    assert [(c.delivery_id, c.detail) for c in clicks] == [(email.id, "booking link clicked")]


def test_a_mangled_booking_link_still_leads_to_the_booking_page(webhook_client: TestClient) -> None:
    first_step_sent()
    before = snapshot()
    response = webhook_client.get("/b/not-a-token", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        302,
        "https://change-me.example/CHANGE-ME/book",
    )
    assert snapshot() == before


def test_a_booking_stops_every_pending_message(webhook_client: TestClient) -> None:
    first_step_sent()
    response = webhook_client.post(
        "/v1/bookings", json={"email": "Robin@Example.com"}, headers=AUTH
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["enrollments_stopped"], body["deliveries_skipped"]) == (1, 4)
    assert contact().booked_at is not None
    assert (enrollment().status, enrollment().stop_reason) == (EnrollmentStatus.STOPPED, "booked")
    pending = [d.status for (step, _), d in by_step().items() if step != "doctor-first"]
    assert set(pending) == {DeliveryStatus.SKIPPED}


def test_a_booking_can_name_the_prospect_by_phone(webhook_client: TestClient) -> None:
    first_step_sent()
    response = webhook_client.post("/v1/bookings", json={"phone": "(617) 555-0199"}, headers=AUTH)
    assert response.status_code == 200 and response.json()["deliveries_skipped"] == 4


def test_a_booking_needs_the_api_key_and_an_address(webhook_client: TestClient) -> None:
    first_step_sent()
    before = snapshot()
    assert webhook_client.post("/v1/bookings", json={"email": EMAIL}).status_code == 401
    missing = webhook_client.post("/v1/bookings", json={}, headers=AUTH)
    assert missing.status_code == 422
    assert "email or the phone" in missing.json()["detail"][0]["msg"]
    unknown = webhook_client.post(
        "/v1/bookings", json={"email": "nobody@example.com"}, headers=AUTH
    )
    assert unknown.status_code == 404
    assert snapshot() == before
