"""The `mail/send` body nurture builds is the one SendGrid's own `Mail` helper builds."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sendgrid.helpers.mail import CustomArg, From, Header, Mail, ReplyTo, To

from nurture.channels.sendgrid import mail_body, opaque_args
from nurture.content.message import OutgoingMessage
from tests.channels.test_contract import _email


def _by_the_helper(message: OutgoingMessage) -> dict[str, Any]:
    """The body as the SDK's Mail helper makes it (how nurture built it until 2026-12)."""
    mail = Mail(
        from_email=From(message.from_email, message.from_name),
        to_emails=To(message.to),
        subject=message.subject,
        plain_text_content=message.text,
        html_content=message.html,
    )
    if message.reply_to:
        mail.reply_to = ReplyTo(message.reply_to)
    targets = [f"<{u}>" for u in (message.unsubscribe_url, message.unsubscribe_mailto) if u]
    if targets:
        mail.add_header(Header("List-Unsubscribe", ", ".join(targets)))
        if message.unsubscribe_url:
            mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for key, value in opaque_args(message.metadata).items():
        mail.add_custom_arg(CustomArg(key, value))
    return dict(mail.get())


_WORDS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_NAMES = st.none() | st.sampled_from(["The Clinic", "Smith, Jones & Co", "Dr; Ann", "Zoë ✓"])
_ADDRESSES = st.sampled_from(["ann@example.com", "r-1z-0123456789abcdef@in.example"])


@settings(max_examples=300, deadline=None)
@given(
    text=_WORDS.filter(bool),
    html=st.none() | _WORDS.filter(bool),
    subject=_WORDS.filter(str.strip),
    from_name=_NAMES,
    reply_to=st.none() | _ADDRESSES,
    unsubscribe_url=st.none() | st.just("https://nurture.test/u/t"),
    unsubscribe_mailto=st.none() | st.just("mailto:care@clinic.example?subject=unsubscribe"),
    metadata=st.dictionaries(
        st.sampled_from(["delivery_id", "enrollment_id", "concern", "note_id"]),
        st.sampled_from(["41", "7", "outer hip pain", "a b"]),
    ),
)
def test_the_body_is_the_one_the_mail_helper_builds(**fields: Any) -> None:
    message = replace(_email(), **fields)
    assert mail_body(message) == _by_the_helper(message)
