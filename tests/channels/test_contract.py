"""One contract for every channel: the outbox, SendGrid and Twilio pass the same suite.

SendGrid and Twilio run through their official SDKs against the fake provider server; the
outbox writes real files. Each implementation is described by a `Rig`: the channel, a valid
message for it, how to read back what arrived, and a copy that cannot reach its provider.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nurture.channels import BaseChannel, OutgoingMessage
from nurture.channels.outbox import OutboxEmailChannel, OutboxSmsChannel
from nurture.channels.sendgrid import SendGridChannel
from nurture.channels.twilio import TwilioChannel
from nurture.config import Settings
from nurture.core.states import Channel
from nurture.errors import PermanentSendError, TransientSendError
from nurture.logs import configure_logging
from tests.conftest import SENDGRID_API_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM
from tests.fakes.provider import FakeProvider
from tests.helpers import read_email, read_sms

NOW = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@dataclass
class Rig:
    channel: BaseChannel
    message: OutgoingMessage
    arrived: Callable[[], list[tuple[str, str]]]
    unreachable: Callable[[], BaseChannel]


def _email(
    delivery_id: int = 1, to: str = "ann@example.com", text: str = "Hello Ann"
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=delivery_id,
        channel=Channel.EMAIL,
        to=to,
        text=text,
        subject="Your consultation request",
        html=f"<p>{text}</p>",
        from_email="care@clinic.example",
        from_name="The Clinic",
        unsubscribe_url="https://nurture.test/u/token",
        unsubscribe_mailto="mailto:care@clinic.example?subject=unsubscribe",
        now=NOW,
        metadata={"delivery_id": str(delivery_id), "enrollment_id": "7"},
    )


def _sms(
    delivery_id: int = 1, to: str = "+16175550199", text: str = "Hello Ann"
) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=delivery_id,
        channel=Channel.SMS,
        to=to,
        text=text,
        now=NOW,
        not_after=NOW + timedelta(hours=2),
        metadata={"delivery_id": str(delivery_id), "enrollment_id": "7"},
    )


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _sendgrid(host: str) -> SendGridChannel:
    return SendGridChannel(SENDGRID_API_KEY, host=host, timeout_s=2)


def _twilio(base: str) -> TwilioChannel:
    return TwilioChannel(
        account_sid=TWILIO_ACCOUNT_SID,
        auth_token=TWILIO_AUTH_TOKEN,
        from_number=TWILIO_FROM,
        api_base=base,
        status_callback="https://nurture.test/webhooks/twilio/status",
        timeout_s=2,
    )


def _outbox_email(tmp_path: Path) -> Rig:
    def arrived() -> list[tuple[str, str]]:
        found = sorted((tmp_path / "email").glob("*.eml"))
        return [
            (m["To"], m.get_body(("plain",)).get_content().strip()) for m in map(read_email, found)
        ]

    def unreachable() -> BaseChannel:
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the outbox folder should be")
        return OutboxEmailChannel(blocker)

    return Rig(OutboxEmailChannel(tmp_path), _email(), arrived, unreachable)


def _outbox_sms(tmp_path: Path) -> Rig:
    def arrived() -> list[tuple[str, str]]:
        found = sorted((tmp_path / "sms").glob("*.json"))
        return [(d["to"], d["body"]) for d in map(read_sms, found)]

    def unreachable() -> BaseChannel:
        blocker = tmp_path / "blocked"
        blocker.write_text("a file where the outbox folder should be")
        return OutboxSmsChannel(blocker, TWILIO_FROM)

    return Rig(OutboxSmsChannel(tmp_path, TWILIO_FROM), _sms(), arrived, unreachable)


@pytest.fixture(params=["outbox-email", "outbox-sms", "sendgrid", "twilio"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    kind = request.param
    if kind == "outbox-email":
        yield _outbox_email(tmp_path)
        return
    if kind == "outbox-sms":
        yield _outbox_sms(tmp_path)
        return
    fake: FakeProvider = request.getfixturevalue("fake_provider")
    api = "sendgrid" if kind == "sendgrid" else "twilio"

    def arrived() -> list[tuple[str, str]]:
        return [(m.to, m.text) for m in fake.messages(api)]

    if kind == "sendgrid":
        rig_ = Rig(_sendgrid(fake.url), _email(), arrived, lambda: _sendgrid(_closed_port()))
    else:
        rig_ = Rig(_twilio(fake.url), _sms(), arrived, lambda: _twilio(_closed_port()))
    yield rig_
    rig_.channel.close()


def test_an_accepted_message_arrives_once_under_the_id_the_channel_returns(rig: Rig) -> None:
    result = rig.channel.send(rig.message)
    assert result.provider == rig.channel.provider
    assert result.message_id
    assert rig.arrived() == [(rig.message.to, rig.message.text)]


def test_text_beyond_ascii_arrives_unchanged(rig: Rig) -> None:
    text = "Café at 9 — see you, Zoë ✓"
    rig.channel.send(
        replace(rig.message, text=text, html=f"<p>{text}</p>" if rig.message.html else None)
    )
    assert rig.arrived() == [(rig.message.to, text)]


def test_a_message_for_the_other_channel_is_refused_for_good_and_sends_nothing(rig: Rig) -> None:
    other = _sms() if rig.message.channel is Channel.EMAIL else _email()
    with pytest.raises(PermanentSendError) as refused:
        rig.channel.send(other)
    assert refused.value.code == "wrong_channel"
    assert rig.arrived() == []


def test_a_message_without_a_recipient_is_refused_for_good_and_sends_nothing(rig: Rig) -> None:
    with pytest.raises(PermanentSendError) as refused:
        rig.channel.send(replace(rig.message, to=""))
    assert refused.value.code == "no_address"
    assert rig.arrived() == []


def test_a_provider_that_cannot_be_reached_is_a_transient_error(rig: Rig) -> None:
    channel = rig.unreachable()
    with pytest.raises(TransientSendError):
        channel.send(rig.message)
    assert rig.arrived() == []


def test_messages_sent_from_many_threads_at_once_each_arrive_once(rig: Rig) -> None:
    messages = [
        replace(rig.message, delivery_id=n, text=f"message number {n}") for n in range(1, 25)
    ]
    ids: list[str] = []

    def send(batch: list[OutgoingMessage]) -> None:
        for message in batch:
            ids.append(rig.channel.send(message).message_id)

    threads = [threading.Thread(target=send, args=(messages[i::6],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(text for _, text in rig.arrived()) == sorted(m.text for m in messages)
    assert len(set(ids)) == len(messages)


def test_the_send_is_logged_by_delivery_without_its_body_or_address(
    rig: Rig, capsys: pytest.CaptureFixture[str]
) -> None:
    # The real pipeline, as JSON lines on stderr (a logger cached by an earlier test would
    # escape structlog's capture_logs).
    configure_logging(Settings(log_format="json", log_level="INFO"))
    rig.channel.send(replace(rig.message, text="private words about a sore hip"))
    err = capsys.readouterr().err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    [entry] = [e for e in logs if e["event"] == "send.accepted"]
    assert entry["delivery_id"] == rig.message.delivery_id
    assert "sore hip" not in err and rig.message.to not in err
