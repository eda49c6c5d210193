"""What the commands print: prospect text never reorders, hides or fakes a row, nor is read
as markup; piped or captured output keeps every value whole; on a terminal a value too wide
folds onto the next line instead of ending in an ellipsis. JSON stays exact JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from rich.console import Console

from nurture.cli.tables import Table
from nurture.core.states import Channel
from nurture.db import session_scope
from nurture.db.tables import InboundMessage
from tests.conftest import ROOT
from tests.helpers import at

STEPS = ["doctor-first", "self-test", "exercise-videos", "booking"]
#: Each kind of character a prospect could use to disguise a row, and rich markup.
HOSTILE = "Ann\u202eevil\u2066\u200b [bold red]FAKE[/bold red] [/] \u2028line\u0085two\r\nthree"


def nurture(
    env: dict[str, str], *args: str, columns: str | None
) -> subprocess.CompletedProcess[str]:
    extra = {} if columns is None else {"COLUMNS": columns}
    base = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    return subprocess.run(
        [sys.executable, "-m", "nurture", *args],
        env={**base, **env, **extra},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("columns", [None, "40", "20"])
def test_a_piped_timeline_keeps_every_step_id_whole(
    env: dict[str, str], columns: str | None
) -> None:
    result = nurture(env, "timeline", "hip-pain-consultation", columns=columns)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if "2026" in line or "20" in line]
    assert rows
    for step in STEPS:
        assert any(step in line for line in result.stdout.splitlines()), step
    assert "…" not in result.stdout


def test_on_a_terminal_a_long_id_folds_instead_of_ending_in_an_ellipsis() -> None:
    console = Console(force_terminal=True, width=24, record=True, color_system=None)
    table = Table()
    table.add_column("step")
    table.add_column("when")
    table.add_row("a-very-long-step-identifier-indeed", "Mon 09:00")
    console.print(table)
    text = console.export_text()
    assert "…" not in text
    cells = "".join(line.split("│")[1].strip() for line in text.splitlines() if "│" in line)
    assert "a-very-long-step-identifier-indeed" in cells


def test_a_cell_of_prospect_text_shows_as_one_line_of_plain_text() -> None:
    console = Console(force_terminal=True, width=200, record=True, color_system=None)
    table = Table()
    table.add_column("from")
    table.add_row(HOSTILE)
    console.print(table)
    text = console.export_text()
    for char in "\u202e\u2066\u200b\u2028\u0085\r":
        assert char not in text
    assert "[bold red]FAKE[/bold red] [/]" in text, "markup shown as typed, never applied"
    body_lines = [line for line in text.splitlines() if "│" in line]
    assert len(body_lines) == 1, "one row: no line of the cell starts another"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_nurture_replies_prints_a_hostile_reply_safely(db: str, env: dict[str, str]) -> None:
    with session_scope() as s:
        s.add(
            InboundMessage(
                provider="twilio",
                provider_message_id="SM1",
                channel=Channel.SMS,
                from_address="+16175550100",
                to_address="+16175550199",
                body=HOSTILE,
                kind="reply",
                received_at=at("2026-03-02 12:00"),
            )
        )
    result = nurture(env, "replies", columns=None)
    assert result.returncode == 0, result.stderr
    assert "\u202e" not in result.stdout and "\u2028" not in result.stdout
    assert "[bold red]FAKE[/bold red] [/]" in result.stdout
    assert "+16175550100" in result.stdout


def test_timeline_json_stays_exact_json(env: dict[str, str]) -> None:
    result = nurture(env, "timeline", "hip-pain-consultation", "--json", columns="20")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["step"] for r in rows if r["channel"] == "email"] == STEPS


def test_an_error_quoting_markup_is_one_plain_line(env: dict[str, str]) -> None:
    result = nurture(env, "timeline", "hip-pain-consultation", "--timezone", "[/x]", columns=None)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "unknown timezone '[/x]'" in result.stderr
