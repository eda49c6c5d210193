"""The shipped sequences: their shape, their validation, and what a lock screen may show."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import SAMPLE_CONTACT, ContactView, StepChannel
from nurture.content.lint import named_terms, terms_for
from nurture.content.render import STOP_FOOTER, Renderer
from nurture.content.validate import run_checks
from nurture.core.states import Channel
from nurture.schedule.catalog import Catalog, load_catalog

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {
    "chronic-pain-default",
    "hip-pain-consultation",
    "low-back-pain",
    "neck-pain",
    "shoulder-pain",
}
# Words that would tell a lock screen what the prospect asked about.
BODY_WORDS = (
    "hip", "gluteus", "glute", "pain", "injur", "muscle", "leg", "back", "neck", "shoulder",
    "arm", "hand", "frozen", "ligament", "sprain", "scar", "lumbar", "spine", "joint",
    "sciatica", "knee", "tendon", "ache", "hurt",
)  # fmt: skip
# Promises the clinic's posts never make.
CLAIMS = ("cure", "guarantee", "proven", "permanent", "miracle", "100%", "never again")
SMS_ONLY = dataclasses.replace(SAMPLE_CONTACT, email=None)
# Without a preheader, an inbox and a lock-screen notification show the body's first lines.
PREVIEW_CHARS = 140


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "schedules")


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)


def _render(catalog: Catalog, settings: Settings, seq_id: str, step_id: str, channel: Channel,
            contact: ContactView = SAMPLE_CONTACT) -> tuple[str, str | None]:  # fmt: skip
    sequence = catalog.get(seq_id)
    message = Composer(Renderer(ROOT / "templates"), settings, catalog).render(
        StepChannel(sequence, sequence.step(step_id), channel), contact, 1
    )
    return message.text, message.subject


def _every_step(catalog: Catalog) -> list[tuple[str, str]]:
    return [(q.id, s.id) for q in catalog.sequences.values() for s in q.steps]


def test_the_clinic_ships_a_sequence_for_each_concern_it_writes_about(catalog: Catalog) -> None:
    assert set(catalog.sequences) == SHIPPED


def test_every_sequence_starts_with_the_doctor_and_ends_with_a_guarded_booking_invitation(
    catalog: Catalog,
) -> None:
    for sequence in catalog.sequences.values():
        first, last = sequence.steps[0], sequence.steps[-1]
        assert first.id == "doctor-first", sequence.id
        assert first.after.amount == 0, sequence.id
        assert last.id == "booking" and last.template.endswith("/booking"), sequence.id
        assert last.when == "not contact.booked", sequence.id
        assert all(s.when is None for s in sequence.steps[:-1]), sequence.id
        assert 3 <= len(sequence.steps) <= 4, "one or two teaching steps between"
        assert sequence.stop_on == ["booked", "unsubscribed"], sequence.id
        assert sequence.send_window is not None, sequence.id
        assert all(s.description for s in sequence.steps), sequence.id
        assert {Channel.EMAIL, Channel.SMS} <= set(first.channels), sequence.id


def test_nurture_validate_passes_with_only_placeholder_warnings(
    catalog: Catalog, settings: Settings
) -> None:
    report = run_checks(ROOT / "schedules", ROOT / "templates", settings=settings)
    assert {(c.sequence, c.step) for c in report.checks} == set(_every_step(catalog))
    assert report.ok, [f.line_text() for f in report.findings if f.is_error]
    others = [f.line_text() for f in report.findings if "CHANGE-ME" not in f.message]
    assert others == []
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURTURE_")}
    env |= {
        "NURTURE_SCHEDULES_DIR": str(ROOT / "schedules"),
        "NURTURE_TEMPLATES_DIR": str(ROOT / "templates"),
    }
    command = [sys.executable, "-m", "nurture.cli", "validate"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"ok: {len(SHIPPED)} sequences" in result.stdout
    listed = subprocess.run(
        [*command, "--json"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    findings = json.loads(listed.stdout)
    assert findings and all(f["severity"] == "warning" for f in findings)
    assert all("CHANGE-ME" in f["message"] for f in findings), findings


@pytest.mark.parametrize("contact", [SAMPLE_CONTACT, SMS_ONLY], ids=["with-email", "sms-only"])
def test_no_sms_and_no_subject_names_a_condition_or_a_part_of_the_body(
    catalog: Catalog, settings: Settings, contact: ContactView
) -> None:
    for seq_id, step_id in _every_step(catalog):
        sms, _ = _render(catalog, settings, seq_id, step_id, Channel.SMS, contact)
        _, subject = _render(catalog, settings, seq_id, step_id, Channel.EMAIL)
        for text in (sms.lower(), (subject or "").lower()):
            for word in BODY_WORDS:
                assert not re.search(rf"\b{word}", text), (seq_id, step_id, word, text)


def test_the_opening_lines_of_every_email_the_preview_a_lock_screen_shows_name_no_condition(
    catalog: Catalog, settings: Settings
) -> None:
    terms = terms_for(catalog.clinic)
    for seq_id, step_id in _every_step(catalog):
        text, _ = _render(catalog, settings, seq_id, step_id, Channel.EMAIL)
        opening = text[:PREVIEW_CHARS]
        assert named_terms(opening, terms) == [], (seq_id, step_id, opening)


def test_the_first_sms_of_every_sequence_ends_with_the_opt_out_line_and_no_later_one_does(
    catalog: Catalog, settings: Settings
) -> None:
    for sequence in catalog.sequences.values():
        bodies = [
            _render(catalog, settings, sequence.id, s.id, Channel.SMS)[0] for s in sequence.steps
        ]
        assert bodies[0].endswith(STOP_FOOTER), sequence.id
        assert not any("STOP" in b for b in bodies[1:]), sequence.id


def test_every_link_comes_from_the_links_context_never_a_raw_address(catalog: Catalog) -> None:
    for sequence in catalog.sequences.values():
        for step in sequence.steps:
            files = sorted((ROOT / "templates").glob(f"{step.template}.*.j2"))
            assert files, step.template
            for path in files:
                text = path.read_text()
                assert not re.search(r"https?:|www\.", text), path
                for href in re.findall(r"\]\(([^)]*)\)|href=\"([^\"]*)\"", text):
                    target = "".join(href)
                    assert re.fullmatch(r"\{\{ links\.[a-z_.]+ \}\}", target), (path, target)


def test_no_message_promises_what_the_clinics_posts_do_not(catalog: Catalog) -> None:
    for sequence in catalog.sequences.values():
        for step in sequence.steps:
            for path in (ROOT / "templates").glob(f"{step.template}.*.j2"):
                text = path.read_text().lower()
                for claim in CLAIMS:
                    assert claim not in text, (path, claim)


@pytest.mark.parametrize("seq_id", sorted(SHIPPED))
def test_the_emails_say_see_your_doctor_first_and_offer_every_way_to_book(
    catalog: Catalog, settings: Settings, seq_id: str
) -> None:
    first, _ = _render(catalog, settings, seq_id, "doctor-first", Channel.EMAIL)
    assert "please see your doctor" in first.lower()
    booking, _ = _render(catalog, settings, seq_id, "booking", Channel.EMAIL)
    clinic = catalog.clinic
    assert "https://nurture.test/b/" in booking
    assert "complimentary 10-15 minute phone consultation" in booking
    assert clinic.phone_consultation_url in booking and clinic.remote_evaluation_url in booking
    assert f"Outside the {clinic.service_area}?" in booking
