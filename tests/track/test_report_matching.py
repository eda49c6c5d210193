"""A provider's report acts only on the delivery that provider accepted under the report's
message id, on the provider's channel: a signed report naming another delivery (by our echoed
id) changes nothing, unless that delivery's send answer was lost on the way back."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from sqlalchemy import update

from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.db.tables import Delivery
from tests.signing import post_sendgrid, post_twilio
from tests.track.webhook_setup import EMAIL, by_step, first_step_sent, snapshot

STATUS = "/webhooks/twilio/status"
OTHER_SID = "SM" + "f" * 32


def twilio_report(sid: str, status: str = "failed") -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "5" * 32,
        "To": "+16175550199",
        "ErrorCode": "30008",
    }


def sendgrid_report(message_id: str, delivery_id: int, kind: str = "bounce") -> dict[str, Any]:
    return {
        "email": EMAIL,
        "timestamp": 1772546400,
        "event": kind,
        "type": "blocked",  # recorded, suppresses nothing: only the delivery could change
        "sg_event_id": f"ev-{message_id}-{delivery_id}",
        "sg_message_id": f"{message_id}.recvd-5f7d8c-1-0",
        "delivery_id": str(delivery_id),
    }


def test_a_twilio_report_naming_a_delivery_not_yet_sent_changes_nothing(
    webhook_client: TestClient,
) -> None:
    first_step_sent()
    waiting = by_step()
    before = [(d.id, d.status) for d in waiting.values()]
    for delivery in waiting.values():
        if delivery.status is not DeliveryStatus.SCHEDULED:
            continue
        # An email, and an SMS Twilio never accepted: neither is Twilio's to report on.
        response = post_twilio(
            webhook_client, STATUS, twilio_report(OTHER_SID), query=f"d={delivery.id}"
        )
        assert response.status_code == 204
    assert [(d.id, d.status) for d in by_step().values()] == before


def test_a_twilio_report_under_another_sid_does_not_touch_a_sent_sms(
    webhook_client: TestClient,
) -> None:
    sms = first_step_sent()[Channel.SMS]
    response = post_twilio(webhook_client, STATUS, twilio_report(OTHER_SID), query=f"d={sms.id}")
    assert response.status_code == 204
    assert by_step()["doctor-first", Channel.SMS].status is DeliveryStatus.SENT


def test_a_twilio_report_never_moves_an_email_even_with_its_message_id(
    webhook_client: TestClient,
) -> None:
    email = first_step_sent()[Channel.EMAIL]
    report = twilio_report(email.provider_message_id or "")
    response = post_twilio(webhook_client, STATUS, report, query=f"d={email.id}")
    assert response.status_code == 204
    assert by_step()["doctor-first", Channel.EMAIL].status is DeliveryStatus.SENT


def test_a_twilio_report_acts_on_the_sms_its_sid_names_whatever_delivery_the_url_names(
    webhook_client: TestClient,
) -> None:
    sent = first_step_sent()
    sms, email = sent[Channel.SMS], sent[Channel.EMAIL]
    report = twilio_report(sms.provider_message_id or "", "delivered")
    assert post_twilio(webhook_client, STATUS, report, query=f"d={email.id}").status_code == 204
    rows = by_step()
    assert rows["doctor-first", Channel.SMS].status is DeliveryStatus.DELIVERED
    assert rows["doctor-first", Channel.EMAIL].status is DeliveryStatus.SENT


def test_a_report_settles_only_an_sms_whose_answer_was_lost_not_one_waiting_to_go(
    webhook_client: TestClient,
) -> None:
    sms = first_step_sent()[Channel.SMS]
    with session_scope() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == sms.id)
            .values(status=DeliveryStatus.RETRYING, provider_message_id=None)
        )
    post_twilio(webhook_client, STATUS, twilio_report(OTHER_SID), query=f"d={sms.id}")
    assert by_step()["doctor-first", Channel.SMS].status is DeliveryStatus.RETRYING
    with session_scope() as s:
        s.execute(
            update(Delivery).where(Delivery.id == sms.id).values(status=DeliveryStatus.UNKNOWN)
        )
    post_twilio(webhook_client, STATUS, twilio_report(OTHER_SID, "sent"), query=f"d={sms.id}")
    settled = by_step()["doctor-first", Channel.SMS]
    assert settled.status is DeliveryStatus.SENT and settled.provider_message_id == OTHER_SID


def test_a_sendgrid_report_never_moves_an_sms_or_an_email_sent_under_another_id(
    webhook_client: TestClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    sent = first_step_sent()
    sms, email = sent[Channel.SMS], sent[Channel.EMAIL]
    waiting = by_step()["self-test", Channel.EMAIL]
    before = snapshot()[1]
    events = [
        sendgrid_report(sms.provider_message_id or "", sms.id),  # an SMS's id, as if email
        sendgrid_report("someone-elses-message", email.id),  # our email, another message
        sendgrid_report("someone-elses-message", waiting.id),  # an email not yet sent
    ]
    assert post_sendgrid(webhook_client, sendgrid_key, events).status_code == 204
    assert snapshot()[1] == before
