"""`validate_all` reports every problem at once, each with its file and line; the lint keeps
condition and body-part words off lock screens and provider consoles."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.content.findings import Finding
from nurture.content.lint import named_terms
from nurture.content.validate import validate_all

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    schedules, templates = tmp_path / "schedules", tmp_path / "templates"
    shutil.copytree(ROOT / "schedules", schedules)
    shutil.copytree(ROOT / "templates", templates)
    return schedules, templates


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.is_error]


def test_the_shipped_files_have_no_error_and_placeholders_only_warn(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    findings = validate_all(*folders, settings=settings)
    assert _errors(findings) == []
    assert any(f.code == "schedule" and "CHANGE-ME" in f.message for f in findings)


def test_five_different_mistakes_in_two_files_are_all_reported_with_file_and_line(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    first = schedules / "first.yaml"
    first.write_text(
        "id: first\n"  # 1
        "match: {concern: [elbow]}\n"  # 2: `name` is missing (mistake 1)
        "steps:\n"  # 3
        "  - id: one\n"  # 4
        "    after: soon\n"  # 5: bad delay (mistake 2)
        "    channels: [email]\n"  # 6
        "    template: hip-pain/booking\n"  # 7
        "  - id: two\n"  # 8
        "    after: 1d\n"  # 9
        "    channels: [fax]\n"  # 10: unknown channel (mistake 3)
        "    template: hip-pain/booking\n"  # 11
        "  - id: one\n"  # 12: duplicate step id (mistake 4)
        "    after: 2d\n"  # 13
        "    channels: [sms]\n"  # 14
        "    template: hip-pain/booking\n"  # 15
    )
    second = schedules / "second.yaml"
    second.write_text(
        "id: second\nname: Second\nmatch: {concern: [wrist]}\nsteps:\n"
        "  - id: hello\n    after: 0m\n    channels: [email]\n"
        "    template: nowhere/hello\n"  # 8: missing template (mistake 5)
    )
    errors = _errors(validate_all(schedules, templates, settings=settings))
    where = {(Path(f.file or "").name, f.line): f.message for f in errors}
    assert len(errors) == 5, [f.line_text() for f in errors]
    assert "name: required field is missing" in where[("first.yaml", 1)]
    assert "steps[0].after: invalid delay 'soon'" in where[("first.yaml", 5)]
    assert "steps[1].channels[0]" in where[("first.yaml", 10)]
    assert "Input should be 'email' or 'sms', got 'fax'" in where[("first.yaml", 10)]
    assert where[("first.yaml", 5)].count("'soon'") == 1, "quoted once"
    assert "'one' is used twice" in where[("first.yaml", 12)]
    assert "nowhere/hello.subject.j2" in where[("second.yaml", 8)]
    assert all(f.message.count(":") >= 1 for f in errors)


def test_template_syntax_and_unknown_variables_each_name_their_file(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    (templates / "hip-pain/booking.sms.j2").write_text("Hi {{ contact.favourite_colour }}")
    (templates / "hip-pain/self-test.subject.j2").write_text("A\nB {% if %}")
    errors = _errors(validate_all(schedules, templates, settings=settings))
    by_file = {Path(f.file or "").name: f for f in errors}
    assert "favourite_colour" in by_file["booking.sms.j2"].message
    assert by_file["booking.sms.j2"].step_id == "booking"
    assert by_file["self-test.subject.j2"].line == 2


def test_an_unknown_clinic_key_and_an_unknown_timezone_are_reported_together(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    clinic = schedules / "clinic.yaml"
    text = clinic.read_text().replace("America/New_York", "Mars/Olympus") + "colour: blue\n"
    clinic.write_text(text)
    findings = validate_all(schedules, templates, settings=settings)
    messages = [f.line_text() for f in _errors(findings)]
    assert any("clinic.yaml" in m and "colour: unknown field" in m for m in messages), messages
    assert any("clinic.yaml" in m and "timezone" in m and "Mars/Olympus" in m for m in messages)


def test_a_bad_when_names_the_line_and_what_it_may_use(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    seq = schedules / "hip-pain-consultation.yaml"
    seq.write_text(seq.read_text().replace("not contact.booked", "contact.nickname.upper()"))
    errors = _errors(validate_all(schedules, templates, settings=settings))
    assert [f.code for f in errors] == ["bad-when"]
    when_line = 1 + seq.read_text().splitlines().index('    when: "contact.nickname.upper()"')
    assert errors[0].line == when_line and "contact.*" in errors[0].message


def test_the_lint_catches_a_body_part_word_planted_in_an_sms_and_in_a_subject(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    sms = templates / "hip-pain/self-test.sms.j2"
    sms.write_text(sms.read_text() + " Go easy on that Knee.")
    subject = templates / "chronic-pain/booking.subject.j2"
    subject.write_text("About your back pain")
    errors = _errors(validate_all(schedules, templates, settings=settings))
    terms = {(f.sequence_id, f.step_id, f.channel): f.message for f in errors}
    assert len(errors) == 2, [f.line_text() for f in errors]
    assert "'knee'" in terms[("hip-pain-consultation", "self-test", "sms")]
    assert "the subject names 'back', 'pain'" in terms[("chronic-pain-default", "booking", "email")]


def test_clinic_yaml_extends_and_relaxes_the_term_list(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    clinic = schedules / "clinic.yaml"
    clinic.write_text(
        clinic.read_text() + "lint: {extra_terms: [exercise], allowed_terms: [back]}\n"
    )
    (templates / "chronic-pain/booking.subject.j2").write_text("We'll get back to you")
    errors = _errors(validate_all(schedules, templates, settings=settings))
    assert "exercise-videos" in {f.step_id for f in errors}
    assert all("'exercise'" in f.message for f in errors), "'back' is allowed now"


def test_links_must_be_https_and_emails_keep_address_and_unsubscribe(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    templates = folders[1]
    (templates / "hip-pain/booking.sms.j2").write_text("See http://clinic.example/x")
    layout = templates / "_layout/email.txt.j2"
    layout.write_text("{{ body }}")
    codes = {(f.code, f.step_id) for f in _errors(validate_all(*folders, settings=settings))}
    assert ("http-link", "booking") in codes
    assert ("no-address", "doctor-first") in codes and ("no-unsubscribe", "self-test") in codes


def test_terms_match_whole_words_in_any_case_and_plurals_but_not_inside_links() -> None:
    terms = ["hip", "knee", "back pain"]
    assert named_terms("HIPS and Knees", terms) == ["hips", "knees"]
    assert named_terms("a shipment, hippo, kneel", terms) == []
    assert named_terms("Back Pain again", terms) == ["back pain"]
    assert named_terms("see https://x.example/hip-videos", terms) == []


@pytest.mark.parametrize(
    ("step", "quoted"),
    [
        ("after: 1d\n    channels: [email]\n    template: 7\n", "got 7"),
        ("after: [1d]\n    channels: [email]\n    template: hip-pain/booking\n", "['1d']"),
        ("after: 1d\n    channels: email\n    template: hip-pain/booking\n", "got 'email'"),
        (
            "after: 1d\n    channels: [email]\n    template: hip-pain/booking\n    when: 3\n",
            "got 3",
        ),
    ],
)
def test_every_finding_about_a_value_quotes_it(
    folders: tuple[Path, Path], settings: Settings, step: str, quoted: str
) -> None:
    schedules, templates = folders
    (schedules / "odd.yaml").write_text(
        f"id: odd\nname: Odd\nmatch: {{concern: [knee]}}\nsteps:\n  - id: one\n    {step}"
    )
    errors = _errors(validate_all(schedules, templates, settings=settings))
    assert any(quoted in f.message for f in errors if (f.file or "").endswith("odd.yaml")), [
        f.line_text() for f in errors
    ]


def test_a_missing_email_body_names_the_markdown_file_it_would_also_accept(
    folders: tuple[Path, Path], settings: Settings
) -> None:
    schedules, templates = folders
    (schedules / "second.yaml").write_text(
        "id: second\nname: Second\nmatch: {concern: [wrist]}\nsteps:\n"
        "  - id: hello\n    after: 0m\n    channels: [email]\n    template: nowhere/hello\n"
    )
    [error] = _errors(validate_all(schedules, templates, settings=settings))
    assert "nowhere/hello.html.j2" in error.message and "nowhere/hello.txt.j2" in error.message
    assert "or, for the body, one " in error.message and "nowhere/hello.md.j2" in error.message
