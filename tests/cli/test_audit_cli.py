"""`nurture audit [--since] [--user] [--action] [--json|--csv]` and `nurture audit verify`."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

from typer.testing import CliRunner

import nurture.cli.audit  # noqa: F401 - registers the commands on the app
from nurture.cli import app
from nurture.db import get_engine
from nurture.people.actor import Actor
from nurture.people.audit import record
from tests.support.audit import tamper, write_rows

runner = CliRunner()
ANN = Actor(kind="person", id=3, name="ann@clinic.test", role="manager")


def _seed() -> None:
    with get_engine().begin() as conn:
        at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        record(conn, actor=Actor.api_key(), action="delivery-cancel", target="delivery:1", at=at)
        at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        record(conn, actor=ANN, action="export", detail={"format": "csv"}, ip="10.0.0.5", at=at)
        at = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
        record(conn, actor=ANN, action="prospect-viewed", target="contact:7", at=at)


def test_json_lists_rows_newest_first_with_filters(db: str) -> None:
    _seed()
    result = runner.invoke(app, ["audit", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["action"] for r in rows] == ["prospect-viewed", "export", "delivery-cancel"]
    assert rows[1] == {
        "id": 2,
        "at": "2026-03-02T09:00:00+00:00",
        "actor_kind": "person",
        "actor_name": "ann@clinic.test",
        "role": "manager",
        "ip": "10.0.0.5",
        "action": "export",
        "target": None,
        "detail": {"format": "csv"},
    }
    only = ["--user", "ANN@clinic.test", "--action", "export"]
    result = runner.invoke(app, ["audit", "--json", *only])
    assert [r["id"] for r in json.loads(result.stdout)] == [2]
    result = runner.invoke(app, ["audit", "--json", "--since", "2026-03-02"])
    assert [r["id"] for r in json.loads(result.stdout)] == [3, 2]


def test_csv_has_a_header_and_a_line_per_row(db: str) -> None:
    _seed()
    result = runner.invoke(app, ["audit", "--csv", "--user", "ann@clinic.test"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["id"], r["action"], r["target"], r["detail"]) for r in rows] == [
        ("3", "prospect-viewed", "contact:7", ""),
        ("2", "export", "", "format=csv"),
    ]


def test_the_table_names_who_did_what(db: str) -> None:
    _seed()
    result = runner.invoke(app, ["audit"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "ann@clinic.test" in result.stdout and "delivery-cancel" in result.stdout
    assert "3 rows" in result.stdout


def test_bad_filters_get_one_line(db: str) -> None:
    result = runner.invoke(app, ["audit", "--action", "peeked"])
    assert result.exit_code == 1
    assert "--action: 'peeked' is not an audit action" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["audit", "--json", "--csv"])
    assert (result.exit_code, "choose one" in result.output) == (1, True)


def test_verify_exits_0_when_intact_and_1_naming_the_changed_row(db: str) -> None:
    write_rows(4)
    result = runner.invoke(app, ["audit", "verify"])
    assert (result.exit_code, result.stdout.strip()) == (0, "4 rows, chain intact")
    tamper("UPDATE audit_log SET ip = '1.2.3.4' WHERE id = 2")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "row 2 was changed" in result.output


def test_verify_names_deleted_rows(db: str) -> None:
    write_rows(4)
    tamper("DELETE FROM audit_log WHERE id = 2")
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 1
    assert "row 2 deleted: the chain jumps to row 3" in result.output
