"""SMS segments as Twilio counts them: GSM-7 or UCS-2, shown by `preview`."""

from __future__ import annotations

from typer.testing import CliRunner

from nurture.cli import app
from nurture.cli import content as _content_commands  # noqa: F401 - registers the commands
from nurture.content.sms import sms_encoding, sms_segments


def test_plain_text_is_gsm7_and_one_emoji_makes_it_ucs2() -> None:
    assert sms_encoding("See you at 10:30, Zoé? €5 off!") == "GSM-7"
    assert sms_encoding("See you soon 🙂") == "UCS-2"
    assert sms_encoding("Curly quotes: “hi”") == "UCS-2"
    assert sms_encoding("Zoë") == "UCS-2"  # ë is not in the GSM alphabet, é is


def test_an_emoji_cuts_a_segment_from_160_to_70_characters() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 159 + "🙂") == 3  # 161 UTF-16 units at 67 per segment


def test_preview_shows_each_sms_with_its_encoding_and_segments(env: dict[str, str]) -> None:
    result = CliRunner().invoke(
        app, ["preview", "hip-pain-consultation", "doctor-first", "--channel", "sms"]
    )
    assert result.exit_code == 0, result.output
    assert "GSM-7" in result.output or "UCS-2" in result.output
    assert "segment(s)" in result.output
