"""Email headers built from a prospect's text: a subject, a display name or a Reply-To that
holds a line break never adds a header nor breaks a send, and one message that cannot be
sent never takes the rest of its batch with it (nor puts the prospect's words in a log)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from nurture.channels.outbox import OutboxEmailChannel
from nurture.config import Settings
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import StaffMessage
from nurture.logs import configure_logging
from nurture.send.staff import send_staff_messages
from nurture.steering.outgoing import StaffDraft, queue_message
from tests.helpers import at, outbox, read_email, send_context

T0 = at("2026-03-03 12:00")
CLINIC = "care@clinic.example"
#: Every way a line can end in a header value, each followed by a header of the attacker's.
BREAKS = ["\r\n", "\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"]


def forward(key: str, *, subject: str, reply_to: str | None = None) -> None:
    with session_scope() as s:
        queue_message(
            s,
            StaffDraft(
                kind="forward",
                dedupe_key=key,
                channel=Channel.EMAIL,
                address=CLINIC,
                subject=subject,
                body="Robin wrote back.",
                reply_to=reply_to,
            ),
            now=T0,
        )


def statuses() -> dict[str, tuple[str, str | None]]:
    with session_scope() as s:
        rows = s.scalars(select(StaffMessage)).all()
        return {r.dedupe_key: (r.status, r.error_code) for r in rows}


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("brk", BREAKS, ids=[f"U+{ord(b[-1]):04X}" for b in BREAKS])
def test_a_line_break_in_a_subject_or_reply_to_adds_no_header_and_the_forward_goes(
    db: str, brk: str
) -> None:
    forward(
        "forward:1",
        subject=f"Reply from Robin: Re: hi{brk}Bcc: victim@evil.example",
        reply_to=f"robin@example.com{brk}Bcc: victim@evil.example",
    )
    forward("forward:2", subject=f"Reply from Ann{brk}{brk}: Re: x", reply_to="Ann <a@example.com>")
    assert send_staff_messages(send_context(), clock=lambda: T0) == {"sent": 2}
    emails = [read_email(p) for p in outbox("email")]
    assert len(emails) == 2
    for email in emails:
        assert email["Bcc"] is None
        assert "\n" not in str(email["Subject"]) and "\r" not in str(email["Subject"])
    subjects = sorted(str(e["Subject"]) for e in emails)
    assert subjects == [
        "Reply from Ann : Re: x",
        "Reply from Robin: Re: hi Bcc: victim@evil.example",
    ]
    # A Reply-To with a break in it is not one address: left out, never half of one.
    assert sorted(str(e["Reply-To"]) for e in emails) == ["Ann <a@example.com>", "None"]


def test_a_display_name_or_subject_with_a_line_break_is_sent_on_one_line(tmp_path: Path) -> None:
    channel = OutboxEmailChannel(tmp_path)
    channel.send(
        OutgoingMessage(
            delivery_id=7,
            channel=Channel.EMAIL,
            to="robin@example.com",
            text="hello",
            subject="Hi\r\nX-Evil: 1",
            from_email=CLINIC,
            from_name="Clinic\nX-Evil: 2",
        )
    )
    [path] = list((tmp_path / "email").glob("*.eml"))
    email = read_email(path)
    assert email["X-Evil"] is None
    assert str(email["Subject"]) == "Hi X-Evil: 1"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_one_message_that_cannot_be_built_fails_alone_and_its_text_stays_out_of_the_log(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = OutboxEmailChannel._send

    def picky(self: OutboxEmailChannel, message: OutgoingMessage) -> object:
        if "Bad" in (message.subject or ""):
            raise ValueError(f"cannot write {message.subject!r}")
        return original(self, message)

    monkeypatch.setattr(OutboxEmailChannel, "_send", picky)
    forward("forward:1", subject="Reply from Robin: Re: my Bad hip")
    forward("forward:2", subject="Reply from Ann: Re: hello")
    forward("forward:3", subject="Reply from Lee: Re: thanks")
    configure_logging(Settings(log_format="json", log_level="INFO"))
    counts = send_staff_messages(send_context(), clock=lambda: T0)
    assert counts == {"failed": 1, "sent": 2}
    assert statuses() == {
        "forward:1": ("failed", "error:ValueError"),
        "forward:2": ("sent", None),
        "forward:3": ("sent", None),
    }
    assert len(outbox("email")) == 2
    err = capsys.readouterr().err
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["event"] == "staff.message_error" for e in logs)
    assert "Robin" not in err and "Bad hip" not in err
