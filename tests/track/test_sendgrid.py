"""SendGrid's signed event webhook: delivery reports, bounces, unsubscribes, forgeries."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db.tables import Delivery
from tests.conftest import use
from tests.signing import post_sendgrid
from tests.track.webhook_setup import (
    EMAIL,
    by_step,
    consent_events,
    contact,
    enrollment,
    first_step_sent,
    snapshot,
    suppressions,
)


def _event(delivery: Delivery, kind: str, event_id: str = "ev-1", **extra: Any) -> dict[str, Any]:
    return {
        "email": EMAIL,
        "timestamp": 1772546400,
        "event": kind,
        "sg_event_id": event_id,
        "sg_message_id": f"{delivery.provider_message_id}.recvd-5f7d8c-1-0",
        "delivery_id": str(delivery.id),
        "enrollment_id": str(delivery.enrollment_id),
        **extra,
    }


def test_delivered_moves_the_email_to_delivered(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    response = post_sendgrid(webhook_client, sendgrid_key, [_event(email, "delivered")])
    assert response.status_code == 204
    assert by_step()["doctor-first", Channel.EMAIL].status is DeliveryStatus.DELIVERED


def test_a_hard_bounce_suppresses_the_address_and_stops_email_while_sms_goes_on(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(
        webhook_client,
        sendgrid_key,
        [_event(email, "bounce", type="bounce", status="5.1.1", reason="550 5.1.1 no such user")],
    )
    rows = by_step()
    assert rows["doctor-first", Channel.EMAIL].status is DeliveryStatus.BOUNCED
    assert rows["doctor-first", Channel.EMAIL].error_code == "bounce:5.1.1"
    assert rows["self-test", Channel.EMAIL].status is DeliveryStatus.SKIPPED
    assert rows["self-test", Channel.SMS].status is DeliveryStatus.SCHEDULED
    assert [(s.channel, s.address, s.reason) for s in suppressions()] == [
        (Channel.EMAIL, EMAIL, "unusable:sendgrid:bounced")
    ]


def test_a_blocked_bounce_is_recorded_but_does_not_suppress(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(
        webhook_client,
        sendgrid_key,
        [_event(email, "bounce", type="blocked", reason="421 try later")],
    )
    assert by_step()["doctor-first", Channel.EMAIL].status is DeliveryStatus.BOUNCED
    assert suppressions() == []
    assert by_step()["self-test", Channel.EMAIL].status is DeliveryStatus.SCHEDULED


def test_dropped_for_a_bounced_address_fails_and_suppresses(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(
        webhook_client, sendgrid_key, [_event(email, "dropped", reason="Bounced Address")]
    )
    row = by_step()["doctor-first", Channel.EMAIL]
    assert (row.status, row.error_detail) == (DeliveryStatus.FAILED, "Bounced Address")
    assert [s.channel for s in suppressions()] == [Channel.EMAIL]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("unsubscribe", "opt_out"), ("group_unsubscribe", "opt_out"), ("spamreport", "complaint")],
)
def test_an_unsubscribe_or_spam_report_opts_out_of_email_only(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, kind: str, reason: str
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(webhook_client, sendgrid_key, [_event(email, kind, asm_group_id=12)])
    rows = by_step()
    assert rows["self-test", Channel.EMAIL].status is DeliveryStatus.SKIPPED
    assert rows["booking", Channel.EMAIL].status is DeliveryStatus.SKIPPED
    assert rows["self-test", Channel.SMS].status is DeliveryStatus.SCHEDULED
    assert contact().consent_email is False
    assert [(s.channel, s.reason) for s in suppressions()] == [(Channel.EMAIL, reason)]
    entry = consent_events()[-1]
    assert (entry.channel, entry.action, entry.source) == (Channel.EMAIL, "opt_out", "webhook")
    assert (
        entry.evidence["event_id"] == "sendgrid:ev-1" and entry.evidence["delivery_id"] == email.id
    )
    assert enrollment().status is EnrollmentStatus.ACTIVE  # SMS still reaches them


def test_opting_out_of_the_last_channel_stops_a_sequence_that_stops_on_unsubscribed(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    from tests.signing import post_twilio

    post_twilio(
        webhook_client,
        "/webhooks/twilio/inbound",
        {
            "MessageSid": "SM" + "c" * 32,
            "From": "+16175550199",
            "To": "+16175550100",
            "Body": "STOP",
        },
    )
    post_sendgrid(webhook_client, sendgrid_key, [_event(email, "unsubscribe")])
    assert (enrollment().status, enrollment().stop_reason) == (
        EnrollmentStatus.STOPPED,
        "unsubscribed",
    )


def test_the_same_event_delivered_twice_is_applied_once(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(webhook_client, sendgrid_key, [_event(email, "spamreport", event_id="ev-9")])
    before = snapshot()
    response = post_sendgrid(
        webhook_client, sendgrid_key, [_event(email, "spamreport", event_id="ev-9")]
    )
    assert response.status_code == 204
    assert snapshot() == before


def test_opens_clicks_and_processed_events_change_nothing(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    before = snapshot()
    events = [
        _event(email, kind, event_id=f"ev-{kind}")
        for kind in ("processed", "open", "click", "deferred")
    ]
    assert post_sendgrid(webhook_client, sendgrid_key, events).status_code == 204
    assert snapshot() == before


def test_a_late_delivered_does_not_undo_a_bounce(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    post_sendgrid(
        webhook_client, sendgrid_key, [_event(email, "bounce", event_id="ev-a", type="bounce")]
    )
    post_sendgrid(webhook_client, sendgrid_key, [_event(email, "delivered", event_id="ev-b")])
    assert by_step()["doctor-first", Channel.EMAIL].status is DeliveryStatus.BOUNCED


def test_a_tampered_batch_gets_403_and_changes_nothing(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    before = snapshot()
    response = post_sendgrid(
        webhook_client, sendgrid_key, [_event(email, "delivered")], tamper=True
    )
    assert response.status_code == 403
    assert snapshot() == before


def test_a_batch_signed_with_another_key_gets_403(webhook_client: TestClient) -> None:
    email = first_step_sent()[Channel.EMAIL]
    before = snapshot()
    stranger = ec.generate_private_key(ec.SECP256R1())
    assert post_sendgrid(webhook_client, stranger, [_event(email, "bounce")]).status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("age_s", [601, 3600, -700])
def test_a_stale_or_future_signature_gets_403(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey, age_s: int
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    before = snapshot()
    response = post_sendgrid(webhook_client, sendgrid_key, [_event(email, "bounce")], age_s=age_s)
    assert response.status_code == 403
    assert snapshot() == before
    fresh = post_sendgrid(webhook_client, sendgrid_key, [_event(email, "bounce")], age_s=30)
    assert fresh.status_code == 204


def test_an_unsigned_batch_gets_403(webhook_client: TestClient) -> None:
    email = first_step_sent()[Channel.EMAIL]
    before = snapshot()
    response = webhook_client.post("/webhooks/sendgrid/events", json=[_event(email, "bounce")])
    assert response.status_code == 403
    assert snapshot() == before


def test_without_a_public_key_every_batch_is_refused(
    webhook_client: TestClient,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    use(env, monkeypatch, sendgrid_webhook_public_key="")
    response = post_sendgrid(webhook_client, sendgrid_key, [_event(email, "bounce")])
    assert response.status_code == 403
    assert "NURTURE_SENDGRID_WEBHOOK_PUBLIC_KEY" in response.json()["detail"]
