"""Twilio webhooks: STOP/START/HELP keywords, replies that pause, status callbacks, forgeries."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from nurture.api import create_app
from nurture.core.states import Channel, DeliveryStatus, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import Delivery
from nurture.dispatch.tick import claim_due
from nurture.steering.replies import list_replies
from tests.conftest import use
from tests.signing import post_twilio, twilio_signature
from tests.track.webhook_setup import (
    PHONE,
    T0,
    by_step,
    consent_events,
    contact,
    enrollment,
    first_step_sent,
    snapshot,
    suppressions,
)

CLINIC = "Benjamin Friction Therapy"
INBOUND = "/webhooks/twilio/inbound"
STATUS = "/webhooks/twilio/status"


def _text(body: str, sid: str = "SM" + "a" * 32, sender: str = PHONE) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": "AC" + "5" * 32,
        "From": sender,
        "To": "+16175550100",
        "Body": body,
    }


def _messages(response_text: str) -> list[str]:
    return re.findall(r"<Message>(.*?)</Message>", response_text, flags=re.S)


@pytest.mark.parametrize(
    "keyword",
    [
        "STOP",
        "stop",
        "  Stop  ",
        "STOPALL",
        "unsubscribe",
        "Cancel",
        "END",
        "quit",
        "REVOKE",
        "optout",
    ],
)
def test_an_opt_out_keyword_in_any_case_suppresses_sms_and_skips_every_pending_sms(
    webhook_client: TestClient, keyword: str
) -> None:
    first_step_sent()
    response = post_twilio(webhook_client, INBOUND, _text(keyword))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    [confirmation] = _messages(response.text)
    assert CLINIC in confirmation and "START" in confirmation
    rows = by_step()
    assert rows["self-test", Channel.SMS].status is DeliveryStatus.SKIPPED
    assert rows["booking", Channel.SMS].status is DeliveryStatus.SKIPPED
    assert rows["self-test", Channel.EMAIL].status is DeliveryStatus.SCHEDULED
    assert rows["booking", Channel.EMAIL].status is DeliveryStatus.SCHEDULED
    assert [(s.channel, s.address, s.reason) for s in suppressions()] == [
        (Channel.SMS, PHONE, "opt_out")
    ]
    assert contact().consent_sms is False and contact().consent_email is True
    opt_out = consent_events()[-1]
    assert (opt_out.channel, opt_out.action, opt_out.source) == (Channel.SMS, "opt_out", "keyword")
    assert opt_out.evidence == {"keyword": keyword.strip().upper(), "message_sid": "SM" + "a" * 32}


def test_twilio_retrying_a_stop_changes_nothing_more_and_confirms_nothing_more(
    webhook_client: TestClient,
) -> None:
    first_step_sent()
    first = post_twilio(webhook_client, INBOUND, _text("STOP"))
    before = snapshot()
    again = post_twilio(webhook_client, INBOUND, _text("STOP"))
    assert len(_messages(first.text)) == 1
    assert again.status_code == 200 and _messages(again.text) == []
    assert snapshot() == before


def test_start_opts_back_in_and_the_ledger_keeps_both_entries(webhook_client: TestClient) -> None:
    first_step_sent()
    post_twilio(webhook_client, INBOUND, _text("STOP", sid="SM1" + "0" * 31))
    response = post_twilio(webhook_client, INBOUND, _text("start", sid="SM2" + "0" * 31))
    [confirmation] = _messages(response.text)
    assert "subscribed" in confirmation and CLINIC in confirmation
    assert suppressions() == []
    assert contact().consent_sms is True
    sms_ledger = [(e.action, e.source) for e in consent_events() if e.channel is Channel.SMS]
    assert sms_ledger == [("opt_in", "api"), ("opt_out", "keyword"), ("opt_in", "keyword")]


@pytest.mark.parametrize("keyword", ["HELP", " info "])
def test_help_gets_one_reply_with_the_clinics_name_and_phone_and_nothing_changes(
    webhook_client: TestClient, keyword: str
) -> None:
    first_step_sent()
    before = snapshot()
    response = post_twilio(webhook_client, INBOUND, _text(keyword))
    [reply] = _messages(response.text)
    assert CLINIC in reply and "+1 617 555 0100" in reply
    assert snapshot()[1:] == before[1:]  # deliveries, enrollments and consent untouched
    assert enrollment().status is EnrollmentStatus.ACTIVE


def test_a_written_reply_pauses_the_sequence_and_is_listed_for_the_clinic(
    webhook_client: TestClient,
) -> None:
    first_step_sent()
    response = post_twilio(webhook_client, INBOUND, _text("Can I come on Thursday afternoon?"))
    assert response.status_code == 200 and _messages(response.text) == []
    assert enrollment().status is EnrollmentStatus.PAUSED
    with session_scope() as s:
        [reply] = list_replies(s)
        assert reply.body == "Can I come on Thursday afternoon?" and reply.from_address == PHONE
        later = T0 + timedelta(days=1)
        assert claim_due(s, now=later, limit=100, lease=timedelta(seconds=60)) == []
    assert by_step()["self-test", Channel.EMAIL].status is DeliveryStatus.SCHEDULED


def test_a_reply_stops_a_sequence_that_stops_on_replied(
    webhook_client: TestClient,
    schedules_dir: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = (schedules_dir / "fast.yaml").read_text()
    (schedules_dir / "fast.yaml").write_text(
        fast.replace("stop_on: [booked, unsubscribed]", "stop_on: [booked, replied]")
    )
    use(env, monkeypatch)  # the schedules are read again
    with TestClient(create_app()) as fresh:
        first_step_sent()
        post_twilio(fresh, INBOUND, _text("no thanks, I'm fine"))
    assert enrollment().status is EnrollmentStatus.STOPPED
    assert enrollment().stop_reason == "replied"
    assert {d.status for (step, _), d in by_step().items() if step != "doctor-first"} == {
        DeliveryStatus.SKIPPED
    }


def test_stop_from_a_number_we_do_not_know_still_suppresses_it(webhook_client: TestClient) -> None:
    response = post_twilio(webhook_client, INBOUND, _text("STOP", sender="+16175550111"))
    assert len(_messages(response.text)) == 1
    assert [(s.channel, s.address) for s in suppressions()] == [(Channel.SMS, "+16175550111")]


@pytest.mark.parametrize(
    "forgery",
    ["no signature", "wrong signature", "another account's token", "another host"],
)
def test_a_forged_inbound_text_gets_403_and_changes_nothing(
    webhook_client: TestClient, forgery: str
) -> None:
    first_step_sent()
    before = snapshot()
    params = _text("STOP")
    if forgery == "no signature":
        response = webhook_client.post(INBOUND, data=params)
    elif forgery == "wrong signature":
        response = post_twilio(webhook_client, INBOUND, params, signature="bm90IGEgc2lnbmF0dXJl")
    elif forgery == "another account's token":
        response = post_twilio(webhook_client, INBOUND, params, token="someone-elses-token")
    else:
        signature = twilio_signature(f"https://attacker.example{INBOUND}", params)
        response = post_twilio(webhook_client, INBOUND, params, signature=signature)
    assert response.status_code == 403
    assert snapshot() == before


def test_a_tampered_body_under_a_real_signature_gets_403(webhook_client: TestClient) -> None:
    first_step_sent()
    before = snapshot()
    signature = twilio_signature(f"https://nurture.test{INBOUND}", _text("HELP"))
    response = webhook_client.post(
        INBOUND, data=_text("STOP"), headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 403
    assert snapshot() == before


# --- status callbacks -------------------------------------------------------------------------


def _status(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "5" * 32,
        "To": PHONE,
        **extra,
    }


def test_status_only_moves_forward_whatever_order_the_callbacks_arrive_in(
    webhook_client: TestClient,
) -> None:
    sms = first_step_sent()[Channel.SMS]
    sid, query = sms.provider_message_id or "", f"d={sms.id}"
    assert (
        post_twilio(webhook_client, STATUS, _status(sid, "delivered"), query=query).status_code
        == 204
    )
    post_twilio(webhook_client, STATUS, _status(sid, "sent"), query=query)
    post_twilio(webhook_client, STATUS, _status(sid, "queued"), query=query)
    post_twilio(webhook_client, STATUS, _status(sid, "undelivered", ErrorCode="30003"), query=query)
    assert by_step()["doctor-first", Channel.SMS].status is DeliveryStatus.DELIVERED


def test_an_undelivered_report_records_the_carrier_error_code(webhook_client: TestClient) -> None:
    sms = first_step_sent()[Channel.SMS]
    post_twilio(
        webhook_client,
        STATUS,
        _status(sms.provider_message_id or "", "undelivered", ErrorCode="30005"),
        query=f"d={sms.id}",
    )
    row = by_step()["doctor-first", Channel.SMS]
    assert (row.status, row.error_code) == (DeliveryStatus.UNDELIVERED, "30005")


def test_a_report_settles_a_delivery_whose_send_answer_was_lost(webhook_client: TestClient) -> None:
    sms = first_step_sent()[Channel.SMS]
    with session_scope() as s:
        s.execute(
            update(Delivery)
            .where(Delivery.id == sms.id)
            .values(status=DeliveryStatus.UNKNOWN, provider_message_id=None)
        )
    post_twilio(webhook_client, STATUS, _status("SM" + "b" * 32, "delivered"), query=f"d={sms.id}")
    row = by_step()["doctor-first", Channel.SMS]
    assert (row.status, row.provider_message_id) == (DeliveryStatus.DELIVERED, "SM" + "b" * 32)


def test_a_repeated_status_callback_is_applied_once(webhook_client: TestClient) -> None:
    sms = first_step_sent()[Channel.SMS]
    post_twilio(
        webhook_client,
        STATUS,
        _status(sms.provider_message_id or "", "delivered"),
        query=f"d={sms.id}",
    )
    before = snapshot()
    post_twilio(
        webhook_client,
        STATUS,
        _status(sms.provider_message_id or "", "delivered"),
        query=f"d={sms.id}",
    )
    assert snapshot() == before


def test_a_forged_status_callback_gets_403_and_changes_nothing(webhook_client: TestClient) -> None:
    sms = first_step_sent()[Channel.SMS]
    before = snapshot()
    params = _status(sms.provider_message_id or "", "undelivered", ErrorCode="30003")
    signature = twilio_signature(f"https://nurture.test{STATUS}?d=999", params)
    response = post_twilio(webhook_client, STATUS, params, query=f"d={sms.id}", signature=signature)
    assert response.status_code == 403
    assert snapshot() == before
