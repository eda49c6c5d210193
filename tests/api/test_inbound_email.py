"""Email replies through SendGrid Inbound Parse: the signed Reply-To names the enrollment,
a reply pauses the sequence and is forwarded to the clinic, automatic answers pause nothing,
a post without the basic-auth credentials changes nothing, and retries count once."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from nurture.api import create_app
from nurture.core.states import Channel, EnrollmentStatus
from nurture.db import session_scope
from nurture.db.tables import InboundMessage, StaffMessage
from nurture.send.staff import send_staff_messages
from tests.api.test_replies import add_notify
from tests.conftest import use, use_providers
from tests.fakes.provider import FakeProvider
from tests.helpers import send_context
from tests.track.webhook_setup import EMAIL, enrollment, first_step_sent, snapshot

DOMAIN = "reply.clinic-mail.example"
CLINIC_MAILBOX = "care.CHANGE-ME@change-me.example"  # from_email in the shipped clinic.yaml
PARSE = "/webhooks/sendgrid/inbound"
USER, PASSWORD = "parse", "s3cret-parse-pw"
REPLY = "Thanks! Could I book for Friday morning instead?"


@pytest.fixture
def client(
    db: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    schedules_dir: Path,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    fake_provider: FakeProvider,
) -> Iterator[TestClient]:
    add_notify(schedules_dir)
    use_providers(
        env,
        monkeypatch,
        fake_provider,
        sendgrid_key,
        inbound_email_domain=DOMAIN,
        sendgrid_inbound_user=USER,
        sendgrid_inbound_password=PASSWORD,
    )
    with TestClient(create_app()) as test_client:
        yield test_client


def reply_to_of_first_email(fake: FakeProvider) -> str:
    [sent] = [m for m in fake.messages("sendgrid") if m.to == EMAIL]
    address = sent.params["reply_to"]["email"]
    assert isinstance(address, str)
    return address


def parse_fields(
    to: str,
    *,
    text: str = REPLY,
    subject: str = "Re: A note from Dr. Benjamin",
    message_id: str = "<CAF=abc123@mail.example.com>",
    sender: str = f"Robin <{EMAIL}>",
    extra_headers: str = "",
) -> dict[str, str]:
    """The form fields Inbound Parse posts for one email (the default, unraw setting)."""
    headers = (
        f"Received: by mx.sendgrid.net with SMTP id abc\n"
        f"From: {sender}\nTo: {to}\nSubject: {subject}\n"
        f"Message-ID: {message_id}\nDate: Tue, 03 Mar 2026 12:05:00 +0000\n"
        f"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=xyz\n{extra_headers}"
    )
    return {
        "headers": headers,
        "dkim": "{@mail.example.com : pass}",
        "to": to,
        "from": sender,
        "subject": subject,
        "text": text + "\n\nOn Tue, Dr. Benjamin wrote:\n> earlier message",
        "html": f"<p>{text}</p>",
        "sender_ip": "203.0.113.7",
        "envelope": f'{{"to":["{to}"],"from":"{EMAIL}"}}',
        "attachments": "0",
        "charsets": '{"to":"UTF-8","html":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"UTF-8"}',
        "SPF": "pass",
        "spam_score": "0.1",
    }


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def post_parse(
    client: TestClient, fields: dict[str, str], headers: dict[str, str] | None = None
) -> Response:
    """POST as SendGrid does: multipart/form-data (an empty file part forces multipart)."""
    return client.post(
        PARSE,
        data=fields,
        files={"attachment-info": ("", b"", "application/octet-stream")},
        headers=basic() if headers is None else headers,
    )


def test_each_email_carries_a_short_signed_reply_to_naming_its_enrollment(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    address = reply_to_of_first_email(fake_provider)
    local, _, domain = address.partition("@")
    assert domain == DOMAIN and local.startswith("r-") and len(local) < 64
    assert local == local.lower()  # survives mail systems that change the case


def test_an_email_reply_pauses_the_sequence_is_listed_and_forwarded_to_the_clinic(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    to = reply_to_of_first_email(fake_provider)
    for _ in range(2):  # SendGrid retries a post: the Message-ID makes it count once
        response = post_parse(client, parse_fields(to))
        assert response.status_code == 200
    assert response.text == "duplicate"
    assert enrollment().status is EnrollmentStatus.PAUSED
    with session_scope() as s:
        [reply] = s.scalars(select(InboundMessage))
        assert (reply.channel, reply.kind, reply.enrollment_id) == (Channel.EMAIL, "reply", 1)
        assert reply.body.startswith(REPLY)
        kinds = sorted(s.scalars(select(StaffMessage.kind)))
    assert kinds == ["forward", "notify", "notify", "notify"]
    page = client.get("/ops/replies", headers={"Authorization": "Bearer test-key"}).text
    assert "Friday morning" in page and 'data-waiting="yes"' in page

    assert send_staff_messages(send_context(), clock=lambda: reply.received_at) == {"sent": 4}
    [forward] = [m for m in fake_provider.messages("sendgrid") if m.to == CLINIC_MAILBOX]
    assert REPLY in forward.text and forward.subject and "Robin" in forward.subject
    assert forward.params["reply_to"]["email"] == EMAIL  # answering it writes to Robin
    notices = [m for m in fake_provider.messages() if m.to != CLINIC_MAILBOX and m.to != EMAIL]
    notices = [m for m in notices if "/ops/replies#reply-" in m.text]
    assert len(notices) == 3 and all("Friday" not in m.text for m in notices)


@pytest.mark.parametrize(
    ("subject", "extra_headers"),
    [
        ("Re: A note", "Auto-Submitted: auto-replied\n"),
        ("Re: A note", "X-Autoreply: yes\n"),
        ("Re: A note", "Precedence: bulk\n"),
        ("Out of Office: back on Monday", ""),
        ("Automatic reply: A note from Dr. Benjamin", ""),
    ],
)
def test_an_automatic_answer_pauses_nothing_and_waits_for_nobody(
    client: TestClient, fake_provider: FakeProvider, subject: str, extra_headers: str
) -> None:
    first_step_sent()
    to = reply_to_of_first_email(fake_provider)
    fields = parse_fields(to, subject=subject, extra_headers=extra_headers, text="I am away.")
    assert post_parse(client, fields).text == "auto"
    assert enrollment().status is EnrollmentStatus.ACTIVE
    with session_scope() as s:
        [reply] = s.scalars(select(InboundMessage))
        assert reply.kind == "auto" and reply.handled_at is not None
        assert s.scalar(select(func.count()).select_from(StaffMessage)) == 0


@pytest.mark.parametrize(
    "headers",
    [{}, basic(password="wrong"), basic(user="someone"), {"Authorization": "Bearer test-key"}],
    ids=["none", "wrong-password", "wrong-user", "not-basic"],
)
def test_a_post_without_the_basic_auth_credentials_is_refused_and_changes_nothing(
    client: TestClient, fake_provider: FakeProvider, headers: dict[str, str]
) -> None:
    first_step_sent()
    before = snapshot()
    response = post_parse(client, parse_fields(reply_to_of_first_email(fake_provider)), headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    assert snapshot() == before and enrollment().status is EnrollmentStatus.ACTIVE


def test_without_credentials_configured_every_post_is_refused_with_503(
    client: TestClient,
    fake_provider: FakeProvider,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_step_sent()
    use(env, monkeypatch, sendgrid_inbound_user="", sendgrid_inbound_password="")
    before = snapshot()
    response = post_parse(client, parse_fields(reply_to_of_first_email(fake_provider)))
    assert response.status_code == 503 and "NURTURE_SENDGRID_INBOUND_USER" in response.text
    assert snapshot() == before


def test_a_forged_token_or_a_stranger_is_kept_unmatched_and_pauses_nothing(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    to = reply_to_of_first_email(fake_provider)
    forged = to.replace(to[to.index("-", 2) + 1 : to.index("@")], "0" * 16)
    post_parse(client, parse_fields(forged, message_id="<forged@x>"))
    stranger = parse_fields(f"hello@{DOMAIN}", message_id="<s@x>", sender="Pat <pat@example.net>")
    post_parse(client, stranger)
    assert enrollment().status is EnrollmentStatus.ACTIVE
    with session_scope() as s:
        replies = list(s.scalars(select(InboundMessage).order_by(InboundMessage.id)))
    assert [(r.contact_id, r.kind) for r in replies] == [(None, "reply"), (None, "reply")]
    page = client.get("/ops/replies", headers={"Authorization": "Bearer test-key"}).text
    assert page.count("Unknown sender") == 2


def test_a_reply_to_the_plain_domain_is_unmatched_even_from_a_known_address(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    assert post_parse(client, parse_fields(f"care@{DOMAIN}")).text == "reply"
    assert enrollment().status is EnrollmentStatus.ACTIVE
    with session_scope() as s:
        assert s.scalar(select(InboundMessage.contact_id)) is None


def test_an_email_that_reached_parse_at_another_address_is_matched_by_its_sender(
    client: TestClient, fake_provider: FakeProvider
) -> None:
    first_step_sent()
    assert post_parse(client, parse_fields("front-desk@clinic-staff.example")).text == "reply"
    assert enrollment().status is EnrollmentStatus.PAUSED


def test_without_an_inbound_domain_reply_to_stays_the_clinics_address(
    client: TestClient,
    fake_provider: FakeProvider,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use(env, monkeypatch, inbound_email_domain="")
    first_step_sent()
    [sent] = [m for m in fake_provider.messages("sendgrid") if m.to == EMAIL]
    assert "reply_to" not in sent.params  # the shipped clinic.yaml has no reply_to: From it is
