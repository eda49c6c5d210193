"""What SendGrid and Twilio receive from nurture, and how each of their answers is taken.

The real SDKs talk to the fake provider server; nothing is mocked inside nurture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from nurture.channels.sendgrid import SendGridChannel
from nurture.channels.twilio import TwilioChannel
from nurture.errors import AmbiguousSendError, PermanentSendError, TransientSendError
from tests.channels.test_contract import NOW, _email, _sms
from tests.conftest import SENDGRID_API_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM
from tests.fakes.provider import Failure, FakeProvider


@pytest.fixture
def sendgrid(fake_provider: FakeProvider) -> Iterator[SendGridChannel]:
    channel = SendGridChannel(SENDGRID_API_KEY, host=fake_provider.url, timeout_s=1)
    yield channel
    channel.close()


def _twilio(fake: FakeProvider, **kwargs: str) -> TwilioChannel:
    options = {"from_number": TWILIO_FROM, **kwargs}
    return TwilioChannel(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        api_base=fake.url,
        status_callback="https://nurture.test/webhooks/twilio/status",
        timeout_s=1,
        **options,
    )


@pytest.fixture
def twilio(fake_provider: FakeProvider) -> Iterator[TwilioChannel]:
    channel = _twilio(fake_provider)
    yield channel
    channel.close()


# --- SendGrid -------------------------------------------------------------------------------


def test_sendgrid_gets_the_clinic_as_sender_both_parts_and_one_click_unsubscribe(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    result = sendgrid.send(_email(delivery_id=41))
    [mail] = fake_provider.messages("sendgrid")
    assert result.message_id == mail.message_id
    assert mail.sender == "care@clinic.example"
    assert mail.params["from"] == {"email": "care@clinic.example", "name": "The Clinic"}
    assert mail.subject == "Your consultation request"
    assert [c["type"] for c in mail.params["content"]] == ["text/plain", "text/html"]
    assert mail.html == "<p>Hello Ann</p>"
    assert mail.headers["List-Unsubscribe"] == (
        "<https://nurture.test/u/token>, <mailto:care@clinic.example?subject=unsubscribe>"
    )
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_sendgrid_custom_args_hold_opaque_ids_only(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    message = _email(delivery_id=41)
    leaky = {**message.metadata, "concern": "outer hip pain", "note_id": "hip pain"}
    sendgrid.send(replace(message, metadata=leaky))
    [mail] = fake_provider.messages("sendgrid")
    assert mail.custom_args == {"delivery_id": "41", "enrollment_id": "7"}


@pytest.mark.parametrize(
    ("failure", "kind", "retry_after"),
    [
        (Failure(status=429, headers={"Retry-After": "7"}), TransientSendError, 7.0),
        (
            Failure(status=429, headers={"X-RateLimit-Reset": str(int(NOW.timestamp()) + 20)}),
            TransientSendError,
            20.0,
        ),
        (Failure(status=503), TransientSendError, None),
        (Failure(status=500), AmbiguousSendError, None),
        (Failure(status=502), AmbiguousSendError, None),
    ],
)
def test_sendgrid_busy_or_broken_answers_retry_or_leave_it_unknown(
    sendgrid: SendGridChannel,
    fake_provider: FakeProvider,
    failure: Failure,
    kind: type,
    retry_after: float | None,
) -> None:
    fake_provider.fail_next(failure)
    with pytest.raises(kind) as raised:
        sendgrid.send(_email())
    assert raised.value.retry_after_s == retry_after
    assert fake_provider.messages() == []


def test_sendgrid_refusing_a_mail_fails_it_with_sendgrids_own_message(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(
        Failure(status=400, message="The from address does not match a verified Sender Identity.")
    )
    with pytest.raises(PermanentSendError) as refused:
        sendgrid.send(_email())
    assert refused.value.code == "400"
    assert "does not match a verified Sender Identity" in str(refused.value)
    assert not refused.value.suppress


def test_sendgrid_accepting_then_not_answering_in_time_is_ambiguous(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(hang_s=2.0))
    with pytest.raises(AmbiguousSendError):
        sendgrid.send(_email())
    assert len(fake_provider.messages("sendgrid")) == 1


# --- Twilio ---------------------------------------------------------------------------------


def test_twilio_gets_from_body_a_status_callback_and_a_validity_period_ending_at_quiet_hours(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    message = replace(_sms(delivery_id=52), not_after=NOW + timedelta(minutes=45))
    result = twilio.send(message)
    [sms] = fake_provider.messages("twilio")
    assert result.message_id == sms.message_id and sms.message_id.startswith("SM")
    assert (sms.params["From"], sms.params["To"], sms.params["Body"]) == (
        TWILIO_FROM,
        "+16175550199",
        "Hello Ann",
    )
    assert sms.params["ValidityPeriod"] == "2700"
    callback = urlsplit(sms.params["StatusCallback"])
    assert f"{callback.scheme}://{callback.netloc}{callback.path}" == (
        "https://nurture.test/webhooks/twilio/status"
    )
    assert parse_qs(callback.query) == {"d": ["52"]}


def test_twilio_sends_through_a_messaging_service_when_one_is_configured(
    fake_provider: FakeProvider,
) -> None:
    channel = _twilio(fake_provider, from_number="", messaging_service_sid="MG" + "1" * 32)
    channel.send(_sms())
    [sms] = fake_provider.messages("twilio")
    assert sms.params["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in sms.params


def test_an_sms_far_from_quiet_hours_gets_twilios_longest_validity(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    twilio.send(replace(_sms(), not_after=NOW + timedelta(hours=20)))
    assert fake_provider.messages("twilio")[0].params["ValidityPeriod"] == "36000"


def test_twilio_21610_is_an_opt_out_that_suppresses(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(
        Failure(status=400, code=21610, message="Attempt to send to unsubscribed recipient")
    )
    with pytest.raises(PermanentSendError) as refused:
        twilio.send(_sms())
    assert (refused.value.code, refused.value.suppress, refused.value.opt_out) == (
        "21610",
        True,
        True,
    )


@pytest.mark.parametrize("code", [21211, 21614, 21635])
def test_twilio_codes_for_a_dead_number_suppress_it(
    twilio: TwilioChannel, fake_provider: FakeProvider, code: int
) -> None:
    fake_provider.fail_next(Failure(status=400, code=code, message="The 'To' number is not valid"))
    with pytest.raises(PermanentSendError) as refused:
        twilio.send(_sms())
    assert (refused.value.code, refused.value.suppress, refused.value.opt_out) == (
        str(code),
        True,
        False,
    )


def test_another_twilio_refusal_fails_with_its_code_and_suppresses_nothing(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(status=400, code=30007, message="Message filtered"))
    with pytest.raises(PermanentSendError) as refused:
        twilio.send(_sms())
    assert refused.value.code == "30007" and not refused.value.suppress
    assert "Message filtered" in str(refused.value)


@pytest.mark.parametrize(
    ("failure", "kind", "retry_after"),
    [
        (Failure(status=429, code=20429, headers={"Retry-After": "3"}), TransientSendError, 3.0),
        (Failure(status=503, code=503), TransientSendError, None),
        (Failure(status=500, code=500), AmbiguousSendError, None),
        (Failure(status=504, code=504), AmbiguousSendError, None),
    ],
)
def test_twilio_busy_or_broken_answers_retry_or_leave_it_unknown(
    twilio: TwilioChannel,
    fake_provider: FakeProvider,
    failure: Failure,
    kind: type,
    retry_after: float | None,
) -> None:
    fake_provider.fail_next(failure)
    with pytest.raises(kind) as raised:
        twilio.send(_sms())
    assert raised.value.retry_after_s == retry_after


def test_twilio_accepting_then_not_answering_in_time_is_ambiguous(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(hang_s=2.0))
    with pytest.raises(AmbiguousSendError):
        twilio.send(_sms())
    assert len(fake_provider.messages("twilio")) == 1


def test_wrong_sendgrid_credentials_fail_the_message(fake_provider: FakeProvider) -> None:
    fake_provider.sendgrid_api_key = SENDGRID_API_KEY
    channel = SendGridChannel("SG.revoked", host=fake_provider.url, timeout_s=1)
    with pytest.raises(PermanentSendError) as refused:
        channel.send(_email())
    assert refused.value.code == "401"
    assert fake_provider.messages() == []


def test_wrong_twilio_credentials_fail_the_message(fake_provider: FakeProvider) -> None:
    fake_provider.twilio_auth_token = TWILIO_AUTH_TOKEN
    channel = TwilioChannel(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token="revoked",
        from_number=TWILIO_FROM,
        api_base=fake_provider.url,
        timeout_s=1,
    )
    with pytest.raises(PermanentSendError) as refused:
        channel.send(_sms())
    assert refused.value.code == "20003"
    assert fake_provider.messages() == []


def test_sendgrid_sends_keep_their_connection(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    for n in range(5):
        sendgrid.send(_email(delivery_id=60 + n))
    mails = fake_provider.messages("sendgrid")
    assert len(mails) == 5
    # One TCP connection (and, against SendGrid, one TLS handshake) for all five.
    assert len({m.peer_port for m in mails}) == 1
