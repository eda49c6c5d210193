"""What the hosted form offers: its concern choices (each routed like any request), the
clinic's colours (checked for contrast) and logo, and the consent wording's versions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import ValidationError

from nurture.core.states import Channel
from nurture.errors import ScheduleError
from nurture.schedule.brand import Brand, contrast
from nurture.schedule.catalog import load_catalog
from nurture.schedule.form import (
    SOMETHING_ELSE,
    choice_problems,
    concern_choices,
    concern_of,
    form_wording,
)
from nurture.schedule.wording import ConsentWording, shown_wording, wording_version

ROOT = Path(__file__).resolve().parents[2]

NECK = """\
id: neck
name: Neck pain follow-up
form_label: Neck pain
match: {concern: [neck, whiplash]}
steps:
  - {id: first, after: 0m, channels: [email, sms], template: hip-pain/doctor-first}
"""
# Its label and only term are taken by the hip file, which sorts first.
SHADOWED = """\
id: side
name: Side of the hip
match: {concern: [hip]}
steps:
  - {id: first, after: 0m, channels: [email], template: hip-pain/doctor-first}
"""


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "schedules"
    shutil.copytree(ROOT / "schedules", folder)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text)
    return folder


def test_each_choice_routes_to_its_sequence_and_something_else_to_the_default(
    tmp_path: Path,
) -> None:
    catalog = load_catalog(_folder(tmp_path, **{"neck-pain": NECK}))
    choices = concern_choices(catalog)
    labels = [c.label for c in choices]
    assert labels[-1] == "Something else" and choices[-1].value == SOMETHING_ELSE
    assert {"Outer hip pain", "Neck pain"} <= set(labels)
    for choice in choices:
        routed = catalog.route(concern_of(choice.value))
        assert routed.id == choice.sequence_id, choice
    assert catalog.route(concern_of(SOMETHING_ELSE)).default


def test_a_sequence_without_a_form_label_is_offered_by_its_name(tmp_path: Path) -> None:
    catalog = load_catalog(
        _folder(tmp_path, **{"neck-pain": NECK.replace("form_label: Neck pain\n", "")})
    )
    assert "Neck pain follow-up" in [c.label for c in concern_choices(catalog)]


def test_a_sequence_no_choice_can_reach_is_left_out_and_named(tmp_path: Path) -> None:
    catalog = load_catalog(_folder(tmp_path, **{"zz-side": SHADOWED}))
    assert "side" not in [c.sequence_id for c in concern_choices(catalog)]
    assert any("'side'" in p and "form_label" in p for p in choice_problems(catalog))


@pytest.mark.parametrize(
    ("brand", "reason"),
    [
        ({"colour": "#7fb3ff"}, "colour #7fb3ff has a contrast of 2.1:1"),
        ({"accent": "#ffd700"}, "accent #ffd700 has a contrast of 1.4:1"),
        ({"colour": "blue"}, "invalid colour 'blue'"),
        ({"logo": "https://cdn.example/logo.png"}, "a file in the schedules folder"),
        ({"logo": "../secrets.png"}, "a file in the schedules folder"),
        ({"logo": "logo.bmp"}, "must be one of"),
    ],
)
def test_colours_that_cannot_be_read_and_logos_from_elsewhere_are_refused(
    brand: dict[str, str], reason: str
) -> None:
    with pytest.raises(ValidationError, match=reason.replace("(", r"\(").replace(".", r"\.")):
        Brand.model_validate(brand)


def test_the_default_brand_is_readable() -> None:
    brand = Brand()
    assert contrast(brand.colour, "#ffffff") >= 4.5
    assert contrast(brand.accent, "#ffffff") >= 3.0
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0


def test_a_logo_that_is_not_there_names_the_file_and_line(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    clinic = folder / "clinic.yaml"
    clinic.write_text(clinic.read_text() + "brand:\n  logo: logo.png\n")
    with pytest.raises(ScheduleError, match=r"clinic\.yaml:\d+: brand\.logo: no file"):
        load_catalog(folder)
    (folder / "logo.png").write_bytes(b"\x89PNG fake")
    assert load_catalog(folder).clinic.brand.logo == "logo.png"


def test_the_default_sms_wording_says_what_us_rules_expect(tmp_path: Path) -> None:
    catalog = load_catalog(_folder(tmp_path))
    sms = form_wording(catalog)[Channel.SMS].text
    expected = (catalog.clinic.name, "text messages", "Up to 4 messages", "not a condition",
                "Msg & data rates may apply", "Reply STOP to opt out, HELP for help")  # fmt: skip
    for words in expected:
        assert words in sms


def test_changing_a_word_makes_a_new_version_and_only_for_that_box() -> None:
    first = shown_wording(ConsentWording(), clinic="A Clinic", phone="1", max_sms=4)
    edited = ConsentWording(email="Yes, {clinic} may email me about my request.")
    second = shown_wording(edited, clinic="A Clinic", phone="1", max_sms=4)
    assert first[Channel.EMAIL].version != second[Channel.EMAIL].version
    assert first[Channel.SMS].version == second[Channel.SMS].version
    assert second[Channel.EMAIL].version == wording_version(
        "Yes, A Clinic may email me about my request."
    )
    assert len(second[Channel.EMAIL].version) == 12


@pytest.mark.parametrize(
    ("wording", "reason"),
    [
        ({"sms": "Yes, {clinic} may text me. Msg & data rates may apply."}, "'STOP', 'HELP'"),
        ({"email": "Yes, {clinik} may email me about things."}, "unknown placeholder {clinik}"),
    ],
)
def test_wording_without_what_it_must_say_is_refused(wording: dict[str, str], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("{", r"\{").replace("}", r"\}")):
        ConsentWording.model_validate(wording)
