"""Rendering: the sandbox, strict variables, layout, opt-out line and SMS segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import SAMPLE_CONTACT, StepChannel
from nurture.content.render import Renderer
from nurture.content.sms import sms_segments
from nurture.content.validate import run_checks
from nurture.core.states import Channel
from nurture.errors import TemplateError
from nurture.schedule.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
CONDITION_WORDS = ("hip", "gluteus", "pain", "injur", "muscle", "leg", "back")


@pytest.fixture
def settings() -> Settings:
    return Settings(public_url="https://nurture.test", secret_key="s", _env_file=None)


def _templates(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "templates"
    (folder / "_layout").mkdir(parents=True)
    (folder / "_layout" / "email.html.j2").write_text(
        (ROOT / "templates/_layout/email.html.j2").read_text()
    )
    (folder / "_layout" / "email.txt.j2").write_text(
        (ROOT / "templates/_layout/email.txt.j2").read_text()
    )
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_every_shipped_step_renders_and_validates(settings: Settings) -> None:
    report = run_checks(ROOT / "schedules", ROOT / "templates", settings=settings)
    assert [f for f in report.findings if f.is_error] == []
    assert len(report.checks) == 38
    assert all(c.segments <= 3 for c in report.checks if c.channel is Channel.SMS)


def test_emails_carry_the_postal_address_and_unsubscribe_link(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    seq = catalog.get("hip-pain-consultation")
    msg = Composer(Renderer(ROOT / "templates"), settings, catalog).render(
        StepChannel(seq, seq.steps[1], Channel.EMAIL), SAMPLE_CONTACT, 7
    )
    assert msg.html and msg.subject
    assert "https://nurture.test/u/" in msg.html and "https://nurture.test/u/" in msg.text
    first_address_line = catalog.clinic.address.splitlines()[0]
    assert first_address_line in msg.text
    assert "<style" not in msg.html, "CSS is inlined"
    assert 'style="' in msg.html


def test_only_the_first_sms_of_a_sequence_ends_with_the_opt_out_line(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    seq = catalog.get("hip-pain-consultation")
    renderer = Renderer(ROOT / "templates")
    bodies = [
        Composer(renderer, settings, catalog)
        .render(StepChannel(seq, s, Channel.SMS), SAMPLE_CONTACT, 1)
        .text
        for s in seq.steps
    ]
    assert bodies[0].endswith("Reply STOP to opt out")
    assert not any("STOP" in b for b in bodies[1:])


def test_sms_and_subjects_name_no_condition(settings: Settings) -> None:
    catalog = load_catalog(ROOT / "schedules")
    renderer = Renderer(ROOT / "templates")
    for seq in catalog.sequences.values():
        for step in seq.steps:
            sms = Composer(renderer, settings, catalog).render(
                StepChannel(seq, step, Channel.SMS), SAMPLE_CONTACT, 1
            )
            email = Composer(renderer, settings, catalog).render(
                StepChannel(seq, step, Channel.EMAIL), SAMPLE_CONTACT, 1
            )
            for text in (sms.text.lower(), (email.subject or "").lower()):
                for word in CONDITION_WORDS:
                    assert f" {word}" not in f" {text}", (seq.id, step.id, word, text)


def test_an_unknown_variable_is_an_error_naming_template_and_variable(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"t/x.sms.j2": "Hi {{ contact.nickname }}"})
    with pytest.raises(TemplateError, match=r"t/x.sms.j2: unknown variable: .*nickname"):
        Renderer(folder).render("t/x", Channel.SMS, {"contact": {"first_name": "A"}})


def test_a_syntax_error_names_the_line(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"t/x.sms.j2": "ok\n{% if %}"})
    with pytest.raises(TemplateError, match=r"t/x.sms.j2: line 2"):
        Renderer(folder).render("t/x", Channel.SMS, {})


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    ],
)
def test_the_sandbox_refuses_template_escapes(tmp_path: Path, payload: str) -> None:
    folder = _templates(tmp_path, **{"t/x.sms.j2": payload})
    with pytest.raises(TemplateError):
        Renderer(folder).render("t/x", Channel.SMS, {"contact": {"first_name": "A"}})


def test_html_is_autoescaped_but_text_and_sms_are_not(tmp_path: Path) -> None:
    folder = _templates(
        tmp_path,
        **{
            "t/x.sms.j2": "Hi {{ contact.first_name }}",
            "t/x.html.j2": "<p>Hi {{ contact.first_name }}</p>",
            "t/x.txt.j2": "Hi {{ contact.first_name }}",
            "t/x.subject.j2": "Hello",
        },
    )
    ctx = {
        "contact": {"first_name": "<b>Bo</b>"},
        "clinic": {"name": "C", "address": "1 St", "phone": "1"},
        "links": {"unsubscribe": "https://u"},
    }
    renderer = Renderer(folder)
    assert renderer.render("t/x", Channel.SMS, ctx).text == "Hi <b>Bo</b>"
    email = renderer.render("t/x", Channel.EMAIL, ctx)
    assert "&lt;b&gt;Bo&lt;/b&gt;" in (email.html or "")
    assert "<b>Bo</b>" not in (email.html or "")


def test_a_fixed_template_is_picked_up_without_a_restart(tmp_path: Path) -> None:
    folder = _templates(tmp_path, **{"t/x.sms.j2": "Helo"})
    renderer = Renderer(folder)
    assert renderer.render("t/x", Channel.SMS, {}).text == "Helo"
    path = folder / "t/x.sms.j2"
    path.write_text("Hello")
    import os

    os.utime(path, (path.stat().st_mtime + 5, path.stat().st_mtime + 5))
    assert renderer.render("t/x", Channel.SMS, {}).text == "Hello"


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("é" * 160, 1),
        ("€" * 80, 1),
        ("€" * 81, 2),
        ("ş" * 70, 1),
        ("ş" * 71, 2),
        ("a" * 100 + "\u2019", 2),
    ],
)
def test_sms_segments_count_gsm7_and_ucs2(body: str, segments: int) -> None:
    assert sms_segments(body) == segments
