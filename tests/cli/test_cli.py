"""The `nurture` command: one clear line and exit 1 for a user's mistake, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nurture.db import reset_engines
from tests.conftest import ROOT
from tests.support.databases import MigratedTemplates

#: Each `nurture` command is a new Python process: seconds on an idle machine, over a minute
#: on a shared one (load 25 on 2 cores), and a test runs two or three.
pytestmark = pytest.mark.timeout(600)


def nurture(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nurture", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture
def upgraded(env: dict[str, str]) -> dict[str, str]:
    """The test's SQLite database brought up by `nurture db upgrade` itself."""
    result = nurture(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return env


@pytest.fixture
def migrated(env: dict[str, str], migrated_templates: MigratedTemplates) -> dict[str, str]:
    """The test's SQLite database, a copy of this test process's migrated one (a `nurture`
    process less than `upgraded`)."""
    migrated_templates.migrate(env["NURTURE_DATABASE_URL"])
    reset_engines()
    return env


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--email", "nope"], "invalid email 'nope'"),
        (["--phone", "123"], "invalid phone '123'"),
        (["--email", "a@example.com", "--timezone", "Mars/Base"], "unknown timezone 'Mars/Base'"),
        ([], "give an email or a phone number"),
        (["--email", "a@example.com", "--sequence", "nope"], "no sequence 'nope'"),
    ],
)
def test_a_bad_enrollment_exits_1_with_one_line(
    migrated: dict[str, str], args: list[str], words: str
) -> None:
    result = nurture(migrated, "enroll", "--first-name", "Al", *args)
    assert result.returncode == 1, result.stdout
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_enroll_prints_the_schedule(upgraded: dict[str, str]) -> None:
    result = nurture(
        upgraded, "enroll", "--first-name", "Al", "--email", "al@example.com", "--concern", "hip"
    )
    assert result.returncode == 0, result.stderr
    assert "enrolled: enrollment 1 in hip-pain-consultation" in result.stdout
    assert result.stdout.count("scheduled") == 4  # four email steps; no phone, so no SMS rows
    assert "no_address" in result.stdout


def test_validate_names_the_file_and_line_of_a_broken_schedule(
    env: dict[str, str], schedules_dir: Path
) -> None:
    (schedules_dir / "broken.yaml").write_text(
        "id: broken\nname: B\ndefault: false\nmatch: {concern: [x]}\nsteps:\n"
        "  - id: one\n    after: soon\n    channels: [email]\n    template: hip-pain/booking\n"
    )
    result = nurture(env, "validate")
    assert result.returncode == 1
    assert f"{schedules_dir / 'broken.yaml'}:7: error: steps[0].after: invalid delay 'soon'" in (
        result.stderr.replace("\n", "")
    )
    assert "Traceback" not in result.stderr


def test_validate_reports_an_unknown_template_variable(env: dict[str, str], tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    path = templates / "hip-pain" / "booking.sms.j2"
    path.write_text(path.read_text() + " {{ contact.favourite_colour }}")
    result = nurture({**env, "NURTURE_TEMPLATES_DIR": str(templates)}, "validate")
    assert result.returncode == 1
    assert "hip-pain/booking.sms.j2: error:" in result.stderr
    assert "unknown variable" in result.stderr and "favourite_colour" in result.stderr
    as_json = nurture({**env, "NURTURE_TEMPLATES_DIR": str(templates)}, "validate", "--json")
    assert as_json.returncode == 1
    findings = json.loads(as_json.stdout)
    errors = [f for f in findings if f["severity"] == "error"]
    assert {(f["step_id"], f["channel"], f["code"]) for f in errors} == {
        ("booking", "sms", "template")
    }
    assert errors[0]["file"].endswith("hip-pain/booking.sms.j2")


def test_validate_passes_on_the_shipped_files_and_warns_about_placeholders(
    env: dict[str, str],
) -> None:
    result = nurture(env, "validate")
    assert result.returncode == 0, result.stderr
    assert "CHANGE-ME" in result.stderr
    assert "ok: 6 sequences" in result.stdout


def test_preview_and_timeline_show_a_step_and_the_schedule(env: dict[str, str]) -> None:
    preview = nurture(env, "preview", "hip-pain-consultation", "doctor-first", "--channel", "sms")
    assert preview.returncode == 0, preview.stderr
    assert "Reply STOP to opt out" in preview.stdout
    assert "segment" in preview.stdout
    timeline = nurture(
        env,
        "timeline",
        "hip-pain-consultation",
        "--start",
        "2026-03-06T19:30",
        "--timezone",
        "America/Chicago",
    )
    assert timeline.returncode == 0, timeline.stderr
    # Friday 19:30: the window (09-19, no Sunday) holds steps to their next opening.
    assert "Sat 2026-03-07 09:00 CST" in timeline.stdout
    bad = nurture(env, "timeline", "hip-pain-consultation", "--timezone", "Nowhere/Town")
    assert bad.returncode == 1 and "unknown timezone 'Nowhere/Town'" in bad.stderr


def test_timeline_json_keeps_the_gap_after_a_sunday_evening_request(env: dict[str, str]) -> None:
    result = nurture(
        env,
        "timeline",
        "hip-pain-consultation",
        "--start",
        "2026-03-01T17:49",
        "--timezone",
        "America/New_York",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    rows = {(r["step"], r["channel"]): r for r in json.loads(result.stdout)}
    first, second = rows["doctor-first", "email"], rows["self-test", "email"]
    assert (first["local"], first["utc"]) == (
        "2026-03-02T09:00:00-05:00",
        "2026-03-02T14:00:00+00:00",
    )
    assert first["reasons"] == ["send window"]
    assert second["local"] == "2026-03-03T09:00:00-05:00" and second["reasons"] == ["spacing"]
    bad = nurture(env, "timeline", "hip-pain-consultation", "--start", "Sunday", "--json")
    assert bad.returncode == 1 and "invalid --start 'Sunday'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_ops_commands_refuse_what_does_not_fit(migrated: dict[str, str]) -> None:
    assert "no delivery 99" in nurture(migrated, "retry", "99").stderr
    result = nurture(migrated, "stop", "--email", "ghost@example.com")
    assert result.returncode == 1 and "no contact with email 'ghost@example.com'" in result.stderr
    nurture(migrated, "enroll", "--first-name", "Al", "--email", "al@example.com")
    result = nurture(migrated, "retry", "1")
    assert result.returncode == 1 and "delivery 1 is scheduled" in result.stderr
    assert nurture(migrated, "cancel", "1").returncode == 0
    assert nurture(migrated, "retry", "1").returncode == 0
    listing = nurture(migrated, "deliveries", "--status", "scheduled")
    assert listing.returncode == 0 and "doctor-first" in listing.stdout
