"""`nurture send-test`: one step's message to yourself, marked [TEST], no prospect touched."""

from __future__ import annotations

import pytest

from tests.api.test_studio import table_counts
from tests.cli.test_cli import nurture
from tests.helpers import outbox, read_email, read_sms


def test_send_test_sends_one_marked_email_for_the_sample_and_touches_no_table(
    db: str, env: dict[str, str]
) -> None:
    before = table_counts()
    result = nurture(
        env, "send-test", "hip-pain-consultation", "booking",
        "--channel", "email", "--to", "Me@Clinic.example", "--sample", "florida",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "m***@clinic.example" in result.stdout and "me@clinic.example" not in result.stdout
    (sent,) = outbox("email")
    email = read_email(sent)
    assert email["To"] == "me@clinic.example" and email["Subject"].startswith("[TEST] ")
    assert table_counts() == before


def test_send_test_sends_one_marked_sms(db: str, env: dict[str, str]) -> None:
    result = nurture(
        env, "send-test", "hip-pain-consultation", "doctor-first", "--channel", "sms",
        "--to", "617-555-0142",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (sent,) = outbox("sms")
    sms = read_sms(sent)
    assert sms["to"] == "+16175550142" and sms["body"].startswith("[TEST] ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["self-test", "--channel", "email", "--to", "nope"], "invalid email 'nope'"),
        (["self-test", "--channel", "fax", "--to", "a@example.com"], "invalid channel 'fax'"),
        (["nope", "--channel", "sms", "--to", "+16175550142"], "has no step 'nope'"),
        (["self-test", "--channel", "sms", "--to", "+16175550142", "--sample", "x"], "no sample"),
    ],
)
def test_send_test_refuses_bad_input_in_one_line(
    db: str, env: dict[str, str], args: list[str], words: str
) -> None:
    result = nurture(env, "send-test", "hip-pain-consultation", *args)
    assert result.returncode == 1
    assert words in result.stderr and "Traceback" not in result.stderr
    assert outbox("sms") == [] and outbox("email") == []
