"""What each channel asks its provider about an attempt (`lookup`), through the real SDKs
against the fake's message list and Email Activity API, which filter and page as the real
ones do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nurture.channels.base import Answer, LookupQuery
from nurture.channels.outbox import OutboxEmailChannel, OutboxSmsChannel
from nurture.channels.sendgrid import SendGridChannel
from nurture.channels.twilio import TwilioChannel
from nurture.core.clock import utcnow
from nurture.errors import AmbiguousSendError
from tests.channels.test_contract import _email, _sms
from tests.conftest import SENDGRID_API_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM
from tests.fakes.provider import Failure, FakeProvider


@pytest.fixture
def sendgrid(fake_provider: FakeProvider) -> Iterator[SendGridChannel]:
    channel = SendGridChannel(SENDGRID_API_KEY, host=fake_provider.url, timeout_s=1)
    yield channel
    channel.close()


@pytest.fixture
def twilio(fake_provider: FakeProvider) -> Iterator[TwilioChannel]:
    channel = TwilioChannel(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        from_number=TWILIO_FROM,
        api_base=fake_provider.url,
        timeout_s=1,
    )
    yield channel
    channel.close()


def _query(delivery_id: int, to: str, sha: str | None) -> LookupQuery:
    return LookupQuery(delivery_id=delivery_id, to=to, body_sha256=sha, attempted_at=utcnow())


def test_twilio_finds_an_sms_accepted_whose_answer_never_came_by_its_body_hash(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    message = _sms(delivery_id=5, text="Hello Ann, this is the clinic")
    fake_provider.fail_next(Failure(hang_s=2.0, api="twilio"))
    with pytest.raises(AmbiguousSendError):
        twilio.send(message)
    [accepted] = fake_provider.messages("twilio")
    found = twilio.lookup(_query(5, message.to, message.body_sha256))
    assert (found.answer, found.message_id) == (Answer.FOUND, accepted.message_id)
    assert "Hello Ann" not in found.evidence  # evidence never carries the body


def test_twilio_pages_through_the_list_and_filters_by_number_sender_and_day(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    for n in range(5):
        twilio.send(_sms(delivery_id=n, text=f"message {n}"))
    twilio.send(_sms(delivery_id=9, to="+16175550111", text="someone else"))
    listed = twilio.messages.list(to="+16175550199", from_=TWILIO_FROM, page_size=2)
    assert sorted(m.body for m in listed) == [f"message {n}" for n in range(5)]
    assert fake_provider.lookups["twilio"] == 3  # three pages, by next_page_uri
    assert twilio.messages.list(to="+16175550199", from_="+15550000000") == []
    tomorrow = utcnow() + timedelta(days=1)
    assert twilio.messages.list(to="+16175550199", date_sent_after=tomorrow) == []
    # The oldest of them (listed last, newest first) is found by its hash too.
    first = _sms(delivery_id=0, text="message 0")
    assert twilio.lookup(_query(0, first.to, first.body_sha256)).answer is Answer.FOUND


def test_twilio_says_absent_only_when_it_lists_clearly_and_cannot_tell_on_errors(
    twilio: TwilioChannel, fake_provider: FakeProvider
) -> None:
    ours = _sms(delivery_id=3, text="never sent")
    assert twilio.lookup(_query(3, ours.to, ours.body_sha256)).answer is Answer.ABSENT
    fake_provider.lookup_status["twilio"] = 503
    unsure = twilio.lookup(_query(3, ours.to, ours.body_sha256))
    assert unsure.answer is Answer.CANNOT_TELL


def test_sendgrid_finds_an_email_by_its_delivery_id_custom_arg(
    sendgrid: SendGridChannel, fake_provider: FakeProvider
) -> None:
    fake_provider.fail_next(Failure(drop=True, api="sendgrid"))
    with pytest.raises(AmbiguousSendError):
        sendgrid.send(_email(delivery_id=12))
    sendgrid.send(_email(delivery_id=13))
    [accepted, _] = fake_provider.messages("sendgrid")
    found = sendgrid.lookup(_query(12, "ann@example.com", None))
    assert (found.answer, found.message_id) == (Answer.FOUND, accepted.message_id)
    assert sendgrid.lookup(_query(14, "ann@example.com", None)).answer is Answer.ABSENT


@pytest.mark.parametrize("status", [403, 404, 429, 500])
def test_sendgrid_without_the_activity_api_or_failing_cannot_tell(
    sendgrid: SendGridChannel, fake_provider: FakeProvider, status: int
) -> None:
    fake_provider.lookup_status["sendgrid"] = status
    answer = sendgrid.lookup(_query(12, "ann@example.com", None))
    assert (answer.answer, answer.evidence) == (Answer.CANNOT_TELL, f"activity api {status}")


def test_an_unreachable_provider_cannot_tell(fake_provider: FakeProvider) -> None:
    fake_provider.stop()
    channel = SendGridChannel(SENDGRID_API_KEY, host=fake_provider.url, timeout_s=1)
    assert channel.lookup(_query(1, "ann@example.com", None)).answer is Answer.CANNOT_TELL


def test_the_outbox_always_knows(tmp_path: Path) -> None:
    email, sms = OutboxEmailChannel(tmp_path), OutboxSmsChannel(tmp_path, TWILIO_FROM)
    sent_email = email.send(_email(delivery_id=21))
    sent_sms = sms.send(_sms(delivery_id=21))
    assert email.lookup(_query(21, "ann@example.com", None)).message_id == sent_email.message_id
    assert sms.lookup(_query(21, "+16175550199", None)).message_id == sent_sms.message_id
    assert email.lookup(_query(22, "ann@example.com", None)).answer is Answer.ABSENT
    assert sms.lookup(_query(22, "+16175550199", None)).answer is Answer.ABSENT
