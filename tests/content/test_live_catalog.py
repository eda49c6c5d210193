"""The live catalog: a broken edit replaces nothing; a valid one is picked up at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nurture.config import Settings
from nurture.content.compose import Composer
from nurture.content.context import StepChannel
from nurture.content.live import LiveCatalog
from nurture.content.samples import SAMPLES
from nurture.core.states import Channel

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def live(tmp_path: Path) -> LiveCatalog:
    shutil.copytree(ROOT / "schedules", tmp_path / "schedules")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    settings = Settings(
        public_url="https://nurture.test",
        secret_key="s",
        schedules_dir=tmp_path / "schedules",
        templates_dir=tmp_path / "templates",
        _env_file=None,
    )
    return LiveCatalog(settings, interval=0).refresh()


def _sms(live: LiveCatalog, step: str = "doctor-first") -> str:
    assert live.current is not None and live.renderer is not None
    seq = live.current.get("hip-pain-consultation")
    return (
        Composer(live.renderer, live.settings, live.current)
        .render(
            StepChannel(seq, seq.step(step), Channel.SMS), SAMPLES["email-and-phone"].contact, 1
        )
        .text
    )


def test_the_shipped_files_load_ok(live: LiveCatalog) -> None:
    assert live.ok and live.current is not None and live.problems == []
    assert live.status()["ok"] is True


def test_an_unknown_clinic_key_keeps_the_last_good_catalog_and_says_where(
    live: LiveCatalog,
) -> None:
    good = live.current
    clinic = live.settings.schedules_dir / "clinic.yaml"
    clinic.write_text(clinic.read_text() + "colour: blue\n")
    live.refresh()
    assert live.current is good and not live.ok
    status = live.status()
    assert status["ok"] is False and status["loaded"] is True
    assert any("colour: unknown field" in p["message"] for p in status["problems"])
    clinic.write_text(clinic.read_text().replace("colour: blue\n", ""))
    live.refresh()
    assert live.ok and live.current is not good


def test_a_template_edited_with_an_error_is_never_rendered_the_last_good_source_is(
    live: LiveCatalog,
) -> None:
    path = live.settings.templates_dir / "hip-pain/doctor-first.sms.j2"
    before = _sms(live)
    path.write_text("NEW {{ contact.first_name }} {{ contact.no_such_thing }}")
    live.refresh()
    assert not live.ok and _sms(live) == before
    path.write_text("NEW {{ contact.first_name }}, thank you.")
    live.refresh()
    assert live.ok and _sms(live).startswith("NEW Alex, thank you.")


def test_a_lint_error_keeps_the_last_good_version_too(live: LiveCatalog) -> None:
    path = live.settings.templates_dir / "hip-pain/self-test.sms.j2"
    path.write_text("How is your knee?")
    live.refresh()
    assert not live.ok and "knee" not in _sms(live, "self-test")
    assert [p.code for p in live.problems] == ["health-term"]


def test_a_process_starting_on_broken_files_has_no_catalog_until_they_are_fixed(
    live: LiveCatalog,
) -> None:
    seq = live.settings.schedules_dir / "hip-pain-consultation.yaml"
    text = seq.read_text()
    seq.write_text(text.replace("after: 1d", "after: soon"))
    fresh = LiveCatalog(live.settings, interval=0).refresh()
    assert fresh.current is None and fresh.status()["loaded"] is False
    seq.write_text(text)
    assert fresh.refresh().current is not None


def test_refresh_looks_at_the_files_at_most_once_per_interval(live: LiveCatalog) -> None:
    slow = LiveCatalog(live.settings, interval=3600).refresh()
    clinic = live.settings.schedules_dir / "clinic.yaml"
    clinic.write_text(clinic.read_text() + "colour: blue\n")
    assert slow.refresh().ok, "not looked at yet"
    assert not slow.refresh(now=True).ok
