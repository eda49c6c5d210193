"""Inbound Parse fields to one event, automatic answers told from people, and the signed
Reply-To address (pure: no database)."""

from __future__ import annotations

import pytest

from nurture.content.links import make_reply_address, read_reply_address
from nurture.errors import InvalidToken
from nurture.steering.notify import mask_address
from nurture.track.email_inbound import is_automatic, parse_inbound_email
from tests.conftest import SECRET_KEY

SECRET = SECRET_KEY
DOMAIN = "reply.clinic-mail.example"


def test_a_reply_address_names_its_enrollment_and_survives_a_change_of_case() -> None:
    address = make_reply_address(SECRET, 123456789, DOMAIN)
    local = address.partition("@")[0]
    assert len(local) < 64 and local == local.lower()
    assert read_reply_address(SECRET, address, DOMAIN) == 123456789
    assert read_reply_address(SECRET, address.upper(), DOMAIN) == 123456789


def test_a_forged_or_foreign_reply_address_names_no_enrollment() -> None:
    address = make_reply_address(SECRET, 42, DOMAIN)
    with pytest.raises(InvalidToken):
        read_reply_address("another-secret", address, DOMAIN)
    other = make_reply_address(SECRET, 43, DOMAIN)
    with pytest.raises(InvalidToken):  # one enrollment's mac on another's id
        read_reply_address(SECRET, address.replace("r-16-", "r-17-"), DOMAIN)
    assert other != address
    assert read_reply_address(SECRET, f"care@{DOMAIN}", DOMAIN) is None
    assert read_reply_address(SECRET, address.replace(DOMAIN, "elsewhere.example"), DOMAIN) is None


@pytest.mark.parametrize(
    ("headers", "subject", "automatic"),
    [
        ({}, "Re: your visit", False),
        ({"Auto-Submitted": "no"}, "Re: your visit", False),
        ({"Auto-Submitted": "auto-replied"}, "Re: your visit", True),
        ({"Auto-Submitted": "auto-generated"}, "Re: your visit", True),
        ({"X-Autoreply": "yes"}, "Re: your visit", True),
        ({"X-Autorespond": "Re: your visit"}, "Re: your visit", True),
        ({"Precedence": "bulk"}, "Re: your visit", True),
        ({"Precedence": "auto_reply"}, "Re: your visit", True),
        ({"Precedence": "junk"}, "Re: your visit", True),
        ({"Precedence": "list"}, "Re: your visit", True),
        ({}, "Out of Office: until Monday", True),
        ({}, "Automatic reply: your visit", True),
        ({}, "Autoreply: your visit", True),
        ({}, "Re: out of office hours, can I call?", False),
    ],
)
def test_automatic_answers_are_told_from_people(
    headers: dict[str, str], subject: str, automatic: bool
) -> None:
    assert is_automatic(headers, subject) is automatic


def test_parse_fields_become_one_event_keyed_by_the_message_id() -> None:
    fields = {
        "headers": "From: Robin <robin@example.com>\nMessage-ID: <abc@mail.example>\n"
        "Auto-Submitted: no\n",
        "from": "Robin <robin@example.com>",
        "to": "r-1-0123456789abcdef@reply.example, Front <front@clinic.example>",
        "cc": "other@example.org",
        "envelope": '{"to":["r-1-0123456789abcdef@reply.example"],"from":"robin@example.com"}',
        "subject": "Re: hello",
        "text": "",
        "html": "<p>Friday <b>works</b></p>",
    }
    email = parse_inbound_email(fields)
    assert email.sender == "robin@example.com" and email.subject == "Re: hello"
    assert email.recipients == (
        "r-1-0123456789abcdef@reply.example",
        "front@clinic.example",
        "other@example.org",
    )
    assert "Friday" in email.text and "<b>" not in email.text  # text from the HTML part
    assert not email.automatic
    again = parse_inbound_email({**fields, "text": "other text"})
    assert again.message_key == email.message_key  # a retry: the same Message-ID
    assert len(email.message_key) <= 64


def test_notices_mask_the_address_they_name() -> None:
    assert mask_address("robin@example.com") == "r***@example.com"
    assert mask_address("+16175550199") == "***0199"
