"""Schedule files: what loads, and the errors a clinic sees for what does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.errors import ScheduleError
from nurture.schedule.catalog import load_catalog
from nurture.schedule.delays import Delay

ROOT = Path(__file__).resolve().parents[2]


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "clinic.yaml").write_text((ROOT / "schedules" / "clinic.yaml").read_text())
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


GOOD = """\
id: s1
name: One
default: true
steps:
  - id: first
    after: 0m
    channels: [email]
    template: hip-pain/doctor-first
"""


def test_the_shipped_schedules_load_with_placeholder_warnings() -> None:
    catalog = load_catalog(ROOT / "schedules")
    assert set(catalog.sequences) == {
        "hip-pain-consultation",
        "low-back-pain",
        "neck-pain",
        "shoulder-pain",
        "chronic-pain-default",
    }
    hip = catalog.get("hip-pain-consultation")
    assert [s.id for s in hip.steps] == ["doctor-first", "self-test", "exercise-videos", "booking"]
    assert [s.after for s in hip.steps] == [
        Delay(0, "m"),
        Delay(1, "d"),
        Delay(3, "d"),
        Delay(5, "d"),
    ]
    assert hip.step("booking").when == "not contact.booked"
    assert any("CHANGE-ME" in w and "phone" in w for w in catalog.warnings)


@pytest.mark.parametrize(
    ("concern", "expected"),
    [
        ("Outer hip pain", "hip-pain-consultation"),
        ("my GLUTEUS hurts", "hip-pain-consultation"),
        ("neck", "neck-pain"),
        ("knee", "chronic-pain-default"),
        (None, "chronic-pain-default"),
        ("hippo bite", "chronic-pain-default"),
    ],
)
def test_a_request_is_routed_by_its_concern_with_one_default(
    concern: str | None, expected: str
) -> None:
    assert load_catalog(ROOT / "schedules").route(concern).id == expected


@pytest.mark.parametrize(
    ("text", "line", "field", "reason"),
    [
        (GOOD.replace("after: 0m", "after: 3x"), 6, "steps[0].after", "invalid delay '3x'"),
        (
            GOOD.replace("channels: [email]", "channels: [fax]"),
            7,
            "steps[0].channels[0]",
            "'email' or 'sms'",
        ),
        (
            GOOD.replace("    template: hip-pain/doctor-first\n", ""),
            5,
            "steps[0].template",
            "required field is missing",
        ),
        (GOOD.replace("name: One", "name: One\ncolour: blue"), 3, "colour", "unknown field"),
        (
            GOOD + "  - id: first\n    after: 1d\n    channels: [email]\n    template: x\n",
            1,
            None,
            "step id 'first' is used twice",
        ),
        (
            GOOD.replace(
                "default: true", "default: true\nsend_window: {start: '22:00', end: '23:00'}"
            ).replace("[email]", "[sms]"),
            1,
            None,
            "no time for SMS",
        ),
        (
            GOOD.replace("    template:", "    when: 'contact.booked and'\n    template:"),
            8,
            "steps[0].when",
            "invalid expression",
        ),
        ("id: s1\nname: [unclosed\n", 3, None, "not valid YAML"),
    ],
)
def test_a_broken_schedule_file_is_refused_with_file_line_and_field(
    tmp_path: Path, text: str, line: int, field: str | None, reason: str
) -> None:
    folder = _folder(tmp_path, s1=text)
    with pytest.raises(ScheduleError) as caught:
        load_catalog(folder)
    error = caught.value
    assert error.file == str(folder / "s1.yaml")
    assert error.line == line, str(error)
    assert error.field == field, str(error)
    assert reason in str(error)


def test_an_unknown_clinic_timezone_is_named(tmp_path: Path) -> None:
    folder = _folder(tmp_path, s1=GOOD)
    clinic = folder / "clinic.yaml"
    clinic.write_text(clinic.read_text().replace("America/New_York", "Mars/Base"))
    with pytest.raises(
        ScheduleError,
        match=r"clinic.yaml:\d+: timezone: unknown timezone "
        r"'Mars/Base'",
    ):
        load_catalog(folder)


def test_two_default_sequences_are_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path, s1=GOOD, s2=GOOD.replace("id: s1", "id: s2"))
    with pytest.raises(ScheduleError, match="only one sequence may be `default: true`"):
        load_catalog(folder)


def test_closed_days_take_weekday_names_and_dates(tmp_path: Path) -> None:
    catalog = load_catalog(_folder(tmp_path, s1=GOOD))
    closed = catalog.clinic.closed
    assert 6 in closed.weekdays
    assert any(d.month == 12 and d.day == 25 for d in closed.dates)
