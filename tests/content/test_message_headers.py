"""A message's headers go out on one line each (`OutgoingMessage.with_safe_headers`)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from nurture.content.message import OutgoingMessage, reply_to_address
from nurture.core.states import Channel
from nurture.core.text import header_text

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def message(**headers: str | None) -> OutgoingMessage:
    return OutgoingMessage(
        delivery_id=7,
        channel=Channel.EMAIL,
        to="sam@example.com",
        text="Hello",
        from_email="care@clinic.example",
        now=NOW,
        **headers,  # type: ignore[arg-type]
    )


def test_a_message_whose_headers_are_one_line_is_handed_over_as_it_is() -> None:
    clean = message(subject="Your follow-up", from_name="Clinic", reply_to="r@clinic.example")
    assert clean.with_safe_headers() is clean
    assert message().with_safe_headers() == message()


def test_a_line_break_or_a_second_address_is_taken_out_of_a_copy() -> None:
    sent = message(
        subject="Hi\r\nBcc: x@example.com",
        from_name=" Clinic\u2028Team ",
        reply_to="a@clinic.example, b@clinic.example",
    )
    safe = sent.with_safe_headers()
    assert (safe.subject, safe.from_name, safe.reply_to) == (
        "Hi Bcc: x@example.com",
        "Clinic Team",
        None,
    )
    assert sent.subject == "Hi\r\nBcc: x@example.com"  # the original is left as it was


headers = st.one_of(st.none(), st.text(max_size=30), st.sampled_from(["Clinic", " a\nb", "x@y.z"]))


@given(subject=headers, from_name=headers, reply_to=headers)
def test_every_header_is_what_header_text_and_reply_to_address_make_of_it(
    subject: str | None, from_name: str | None, reply_to: str | None
) -> None:
    safe = message(subject=subject, from_name=from_name, reply_to=reply_to).with_safe_headers()
    assert safe.subject == (None if subject is None else header_text(subject))
    assert safe.from_name == (None if from_name is None else header_text(from_name))
    assert safe.reply_to == (None if reply_to is None else reply_to_address(reply_to))
    assert safe.with_safe_headers() is safe  # made safe once, nothing is left to change
