"""The results report: a scripted scenario played through the real paths gives exactly the
expected numbers in `nurture report --json` and `--csv`; the median, the period and bad input."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta

import pytest
from typer.testing import CliRunner

import nurture.cli.report  # noqa: F401 - registers `report`
from nurture.cli import app as cli
from nurture.db import session_scope
from nurture.ops.results import collect_results, parse_period
from tests.conftest import ROOT, ApiProcess
from tests.helpers import at, enroll
from tests.ops.results_scenario import (
    EXPECTED_STEPS,
    SEQUENCE_ID,
    ZERO,
    check_json,
    play,
    results_api,  # noqa: F401 - the fixture
)


def _report(*args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_scripted_scenario_gives_exactly_the_expected_numbers_in_json_and_csv(
    results_api: ApiProcess,  # noqa: F811 - the fixture imported above
) -> None:
    started = play(results_api.base)
    check_json(json.loads(_report("--json")))
    check_json(json.loads(_report("--json", "--sequence", SEQUENCE_ID)))

    rows = list(csv.DictReader(io.StringIO(_report("--csv"))))
    mine = [r for r in rows if r["sequence"] == SEQUENCE_ID]
    assert [(r["step"], r["channel"]) for r in mine] == list(EXPECTED_STEPS)
    for row in mine:
        assert (row["enrolled"], row["booked"], row["conversion"]) == ("4", "2", "0.5000")
        assert {k: int(row[k]) for k in ZERO} == EXPECTED_STEPS[row["step"], row["channel"]]

    # The period selects by enrollment: the day it started holds everyone, the next nobody.
    day = started.date()
    check_json(json.loads(_report("--json", "--since", str(day), "--until", str(day))))
    later = json.loads(_report("--json", "--since", str(day + timedelta(days=1))))
    [seq] = [s for s in later["sequences"] if s["id"] == SEQUENCE_ID]
    assert (seq["enrolled"], seq["booked"], seq["median_days_to_booking"]) == (0, 0, None)
    assert all(step[k] == 0 for step in seq["steps"] for k in ZERO)

    table = _report("--sequence", SEQUENCE_ID)
    assert "4 enrolled, 2 booked (50.0%), median 3.0 days" in table
    assert "self-test" in table


def test_the_median_days_to_booking_is_the_middle_of_an_even_count(db: str) -> None:
    from nurture.db.tables import Contact

    t0 = at("2026-03-02 12:00")
    for n, days in enumerate([1, 2, 4, 10]):
        enroll(t0, email=f"p{n}@example.com", phone=f"+1617555020{n}")
        with session_scope() as s:
            contact = s.query(Contact).filter_by(email=f"p{n}@example.com").one()
            contact.booked_at = t0 + timedelta(days=days)
    with session_scope() as s:
        results = collect_results(s)  # no catalog: the sequences found in the database
    [seq] = results.sequences
    assert (seq.id, seq.enrolled, seq.booked) == ("fast", 4, 4)
    assert seq.median_days_to_booking == 3.0  # (2 + 4) / 2


def test_a_period_is_whole_utc_days_and_a_bad_one_is_named() -> None:
    since, until = parse_period("2026-03-01", "2026-03-31")
    assert (since, until) == (at("2026-03-01 00:00"), at("2026-04-01 00:00"))
    assert parse_period("2026-03-01T12:30", None) == (at("2026-03-01 12:30"), None)
    with pytest.raises(ValueError, match="since: 'yesterday' is not a date"):
        parse_period("yesterday", None)
    with pytest.raises(ValueError, match="must be after"):
        parse_period("2026-03-02", "2026-03-01")


def test_bad_report_options_say_what_is_wrong_in_one_line(db: str, env: dict[str, str]) -> None:
    for args, words in (
        (["--since", "nope"], "since: 'nope' is not a date"),
        (["--sequence", "missing"], "no sequence 'missing'"),
        (["--json", "--csv"], "choose one"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "nurture.cli", "report", *args],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**env, "PATH": "/usr/bin:/bin"},
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        assert words in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
