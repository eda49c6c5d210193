"""The clinic's settings: each value checked with a message naming the field and what is
wrong; `apply` writes only the values given into clinic.yaml, every comment kept."""

from __future__ import annotations

import difflib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nurture.edit.settings import FIELDS, apply, current, edit, examples
from nurture.schedule.catalog import load_catalog, scan_catalog
from nurture.schedule.clinic import Clinic
from tests.conftest import ROOT

SHIPPED = (ROOT / "schedules" / "clinic.yaml").read_text()
LABELS = {f.name: f.label for f in FIELDS}
REAL: dict[str, Any] = {
    "address": "12 Main Street, Suite 3\nCambridge, MA 02138",
    "phone": "(617) 555-0199",
    "from_email": "care@benjamin-clinic.example",
    "website": "https://benjamin-clinic.example/",
    "booking_url": "https://benjamin-clinic.example/book",
    "phone_consultation_url": "https://benjamin-clinic.example/call",
    "remote_evaluation_url": "https://benjamin-clinic.example/remote",
    "videos": {
        "basics": "https://benjamin-clinic.example/v/basics",
        "gluteus_medius": "https://benjamin-clinic.example/v/gluteus-medius",
    },
}


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a change removed (-) and added (+)."""
    return [
        line
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line.startswith(("- ", "+ "))
    ]


def comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.lstrip().startswith("#")]


@pytest.mark.parametrize(
    ("field", "good", "kept"),
    [
        ("phone", "+1 617 555 0100", "+1 617 555 0100"),
        ("phone", "(617) 555-0100", "(617) 555-0100"),
        ("from_email", "care@clinic.example", "care@clinic.example"),
        ("reply_to", "", None),
        ("timezone", "America/Chicago", "America/Chicago"),
        ("website", "https://clinic.example/", "https://clinic.example/"),
        ("notify_sms", "(617) 555-0142\n+1 617 555 0143", ["+16175550142", "+16175550143"]),
        (
            "notify_email",
            "a@clinic.example, b@clinic.example",
            ["a@clinic.example", "b@clinic.example"],
        ),
        ("closed_weekdays", ["sun", "Saturday"], ["sat", "sun"]),
        ("lint_extra_terms", "sciatica\nsciatica\n knee ", ["sciatica", "knee"]),
    ],
)
def test_a_good_value_is_kept_as_the_clinic_wrote_it(field: str, good: Any, kept: Any) -> None:
    result = edit(SHIPPED, {field: good})
    assert result.errors == {}
    assert current(result.text)[field] == kept


@pytest.mark.parametrize(
    ("field", "bad", "words"),
    [
        ("phone", "555", "'555' is not a phone number: write it with its area code"),
        ("phone", "CHANGE-ME: +1 617 555 0199", "still holds the example's CHANGE-ME"),
        ("from_email", "care at clinic", "'care at clinic' is not an email address"),
        ("reply_to", "x@", "'x@' is not an email address"),
        ("website", "http://clinic.example", "is not a web link starting with https://"),
        ("booking_url", "https://clinic example/book", "has a space in it"),
        ("booking_url", "clinic.example/book", "is not a web link starting with https://"),
        ("timezone", "Eastern", "'Eastern' is not a timezone: choose one from the list"),
        ("closed_dates", "2026-02-30", "'2026-02-30' is not a date: write it as year-month-day"),
        ("closed_dates", "25/12/2026", "'25/12/2026' is not a date"),
        ("closed_weekdays", ["funday"], "'funday' is not a day of the week: use mon, tue"),
        ("notify_email", "desk@clinic.example\nnot-an-address", "'not-an-address' is not an email"),
        ("notify_sms", "12345", "'12345' is not a phone number"),
        ("name", "  ", "cannot be left empty"),
        ("videos", {"Basics Video": "https://clinic.example/v"}, "cannot name a video"),
        (
            "videos",
            {"basics": "ftp://clinic.example/v"},
            "is not a web link starting with https://",
        ),
        ("videos", [("", "https://clinic.example/v")], "needs a name"),
        ("consent_sms", "Yes, {clinic} may text me about my request, please.", "must say 'STOP'"),
        ("consent_email", "Yes, {clinic} may email me at {address} please.", "unknown placeholder"),
        ("address", "x" * 301, "is 301 characters long; at most 300"),
        ("videos", "basics", 'give them as {"name": "https://…"}'),
        ("videos", [["basics", "https://clinic.example/v", "extra"]], "a name and a link each"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_the_problem(
    field: str, bad: Any, words: str
) -> None:
    result = edit(SHIPPED, {field: bad})
    assert list(result.errors) == [field]
    message = result.errors[field]
    assert message.startswith(f"{LABELS[field]}: "), message
    assert words in message, message
    assert result.text == SHIPPED and result.changed == []


def test_an_unknown_setting_is_refused_by_name() -> None:
    result = edit(SHIPPED, {"shoe_size": 9})
    assert "'shoe_size' is not a setting" in result.errors["shoe_size"]


def test_apply_changes_only_the_values_given_and_keeps_every_comment() -> None:
    after = apply(SHIPPED, {"phone": "(617) 555-0199", "service_area": "Greater Boston"})
    assert changed_lines(SHIPPED, after) == [
        '- phone: "CHANGE-ME: +1 617 555 0100"',
        '+ phone: "(617) 555-0199"',
        "- service_area: Boston area",
        "+ service_area: Greater Boston",
    ]
    assert comments(after) == comments(SHIPPED)


def test_saving_the_values_the_file_has_changes_nothing() -> None:
    values = current(SHIPPED)
    result = edit(SHIPPED, {k: v for k, v in values.items() if k != "videos"})
    assert result.errors == {} and result.changed == [] and result.text == SHIPPED


def test_an_empty_box_keeps_the_example_for_later_but_a_real_value_cannot_be_emptied() -> None:
    kept = edit(SHIPPED, {"phone": "", "booking_url": ""})
    assert kept.errors == {} and kept.changed == []
    emptied = edit(SHIPPED, {"practitioner": ""})
    assert emptied.errors == {"practitioner": "Practitioner: cannot be left empty"}


def test_the_commented_notify_block_becomes_a_real_one_in_its_place() -> None:
    result = edit(SHIPPED, {"notify_email": "desk@clinic.example", "notify_sms": "617 555 0142"})
    assert result.errors == {} and result.changed == ["notify_email", "notify_sms"]
    tail = result.text.split("closed_days:")[1]
    assert tail.splitlines()[1:] == [
        "# Who is told of each reply from a prospect (a link to /ops/replies, never the "
        "reply's text).",
        "notify:",
        "  email: [desk@clinic.example]",
        "  sms: ['+16175550142']",
    ]
    # Every other comment is kept; only the commented-out example became the real block.
    example = [
        "# notify:",
        "#   email: [front-desk@change-me.example]",
        '#   sms: ["+16175550142"]',
    ]
    assert comments(result.text) == [c for c in comments(SHIPPED) if c not in example]
    clinic = Clinic.model_validate(yaml.safe_load(result.text))
    assert clinic.notify.email == ["desk@clinic.example"]
    assert clinic.notify.sms == ["+16175550142"]


def test_the_commented_reply_to_becomes_real_keeping_its_explanation() -> None:
    result = edit(SHIPPED, {"reply_to": "hello@clinic.example"})
    assert "reply_to: hello@clinic.example # optional; replies go to from_email when omitted" in (
        result.text.splitlines()
    )
    assert comments(edit(result.text, {"reply_to": ""}).text) == [
        c for c in comments(SHIPPED) if not c.startswith("# reply_to")
    ]


def test_videos_are_changed_added_and_removed_in_order() -> None:
    result = edit(
        SHIPPED,
        {
            "videos": [
                ("basics", "https://clinic.example/v/1"),
                ("stretch", "https://clinic.example/v/2"),
            ]
        },
    )
    assert result.errors == {}
    block = result.text.split("videos:\n")[1].split("closed_days")[0]
    assert block.splitlines() == [
        "  basics: https://clinic.example/v/1",
        "  stretch: https://clinic.example/v/2",
        "# Weekday names (mon..sun) and/or ISO dates; `bd` (business day) delays skip these.",
    ]


def test_closed_days_keep_their_style_weekdays_then_dates() -> None:
    result = edit(
        SHIPPED, {"closed_weekdays": ["sat", "sun"], "closed_dates": "2027-07-04\n2026-12-25"}
    )
    assert 'closed_days: [sat, sun, "2026-12-25", "2027-07-04"]' in result.text.splitlines()
    assert changed_lines(SHIPPED, result.text)[0].startswith("- closed_days:")


def test_real_values_make_a_clinic_file_that_loads_with_no_example_left(tmp_path: Path) -> None:
    folder = shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    result = edit(
        SHIPPED, {**REAL, "lint_extra_terms": "sciatica", "notify_email": "d@clinic.example"}
    )
    assert result.errors == {}
    assert examples(current(result.text)) == []
    (folder / "clinic.yaml").write_text(result.text)
    scan = scan_catalog(folder)
    assert scan.errors == [] and scan.warnings == []
    clinic = load_catalog(folder).clinic
    assert clinic.phone == "(617) 555-0199"
    assert clinic.address == "12 Main Street, Suite 3\nCambridge, MA 02138\n"
    assert clinic.lint.extra_terms == ["sciatica"]
    assert re.search(
        r"^lint:\n  extra_terms: \[sciatica\]\n  allowed_terms: \[\]$", result.text, re.M
    )
