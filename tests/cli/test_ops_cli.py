"""`nurture status | deliveries | export | health`, against a seeded database."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

import nurture.cli.ops  # noqa: F401 - registers the commands on the app
from nurture.cli import app
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.core.keys import DISPATCH_QUEUE, DISPATCH_TASK, SEND_QUEUE, SEND_TASK
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch.heartbeat import beat_worker, worker_name
from nurture.dispatch.queue import create_app
from nurture.ops.broker import queue_depths
from nurture.ops.history import find_deliveries
from nurture.ops.status import collect_status
from tests.conftest import ROOT, use
from tests.ops_helpers import ids_of, rows, seed_now, tick

runner = CliRunner()
CONTRACT_KEYS = {
    "deliveries",
    "due_now",
    "oldest_overdue_s",
    "next_24h",
    "workers",
    "scheduler_heartbeat_age_s",
}


def _nurture(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nurture.cli", *args],
        env={**os.environ, **env, "COLUMNS": "200"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _publish(count: int, queue: str = SEND_QUEUE, task: str = SEND_TASK) -> None:
    producer = create_app(get_settings())
    with producer.producer_or_acquire() as prod:
        for n in range(count):
            producer.send_task(task, args=[n], queue=queue, producer=prod)
    producer.close()


def test_status_json_is_the_database_figures_and_exits_2_when_unhealthy(db: str) -> None:
    seed_now()
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 2, result.output
    figures = json.loads(result.output)
    assert figures.keys() >= CONTRACT_KEYS
    with session_scope() as s:
        expected = collect_status(s, now=datetime.fromisoformat(figures["now"]))
    assert {k: figures[k] for k in expected} == expected
    assert figures["workers"] == 0  # the embedded broker: heartbeats, and none beat
    assert "no worker answered a ping" in figures["problems"]
    assert figures["healthy"] is False
    # Due six hours ago less a few seconds: "5h59m", or "6h" when seeding took longer.
    assert any(re.match(r"oldest due delivery is [56]h", p) for p in figures["problems"])


def _a_worker_beats() -> None:
    with session_scope() as session:
        beat_worker(session, worker_name(), utcnow())


def test_status_exits_0_when_the_scheduler_ticks_and_nothing_is_late(db: str) -> None:
    tick(utcnow())
    _a_worker_beats()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "healthy" in result.output and "unhealthy" not in result.output
    # Just ticked: "0s ago", or "1s" when the machine is slow to run the command.
    assert re.search(r"scheduler last tick: [01]s ago", result.output), result.output


def test_status_thresholds_come_from_the_command_line(db: str) -> None:
    tick(utcnow() - timedelta(seconds=90))
    _a_worker_beats()
    assert runner.invoke(app, ["status"]).exit_code == 2  # default: 60 s
    assert runner.invoke(app, ["status", "--max-heartbeat-age-s", "600"]).exit_code == 0


def test_queue_depth_counts_the_embedded_brokers_message_files(db: str) -> None:
    _publish(3)
    _publish(1, DISPATCH_QUEUE, DISPATCH_TASK)
    assert queue_depths(get_settings()) == {SEND_QUEUE: 3, DISPATCH_QUEUE: 1}
    figures = json.loads(runner.invoke(app, ["status", "--json"]).output)
    assert (figures["queues"], figures["queue_depth"]) == ({SEND_QUEUE: 3, DISPATCH_QUEUE: 1}, 4)


@pytest.mark.redis
def test_queue_depth_counts_the_redis_lists(
    db: str, redis_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, broker_url=redis_url)
    _publish(5)
    assert queue_depths(get_settings()) == {SEND_QUEUE: 5, DISPATCH_QUEUE: 0}


def test_deliveries_filter_by_state_step_channel_and_due_time(db: str) -> None:
    now, _ = seed_now()
    everything = rows()

    def ids(**filters: object) -> set[int]:
        with session_scope() as s:
            return {r.delivery.id for r in find_deliveries(s, limit=1000, **filters)}  # type: ignore[arg-type]

    failed = {d.id for d in everything if d.status is DeliveryStatus.FAILED}
    assert ids(states=(DeliveryStatus.FAILED,)) == failed and len(failed) == 2
    assert ids(states=(DeliveryStatus.FAILED,), channel=Channel.SMS) == {
        d.id for d in everything if d.status is DeliveryStatus.FAILED and d.channel is Channel.SMS
    }
    assert ids(step="booking") == {d.id for d in everything if d.step_id == "booking"}
    since, until = now - timedelta(hours=5, minutes=30), now - timedelta(hours=1)
    assert ids(since=since, until=until) == {d.id for d in everything if since <= d.due_at <= until}

    result = _nurture(get_env(), "deliveries", "--status", "failed", "--channel", "sms")
    assert result.returncode == 0, result.stderr
    assert "1 delivery" in result.stdout and "21211" in result.stdout
    result = _nurture(get_env(), "deliveries", "--status", "unknown", "--status", "failed")
    assert "4 deliveries" in result.stdout
    result = _nurture(get_env(), "deliveries", "--since", "5h30m")
    assert result.returncode == 1
    assert result.stderr.strip().startswith("error: --since: '5h30m' is not a time")


def get_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("NURTURE_")}


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_export_writes_one_prospects_history_in_time_order(db: str, tmp_path: Path) -> None:
    _, seeded = seed_now()
    out = tmp_path / "failed.csv"
    result = runner.invoke(app, ["export", "--email", "failed@example.com", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = _csv(out.read_text())
    assert [r["at"] for r in table] == sorted(r["at"] for r in table)
    kinds = [r["kind"] for r in table]
    assert kinds[0] == "request" and {"consent", "enrollment", "delivery"} <= set(kinds)
    mine = set(ids_of(seeded.failed))
    assert {int(r["delivery_id"]) for r in table if r["delivery_id"]} == mine
    failures = [r for r in table if r["kind"] == "delivery_event" and r["status"] == "failed"]
    assert len(failures) == 2 and all(r["detail"].startswith("21211") for r in failures)
    assert f"{len(table)} rows written" in result.output


def test_export_to_stdout_and_a_spreadsheet_formula_is_defused(db: str) -> None:
    from tests.helpers import enroll

    enroll(utcnow(), email="eve@example.com", phone="+16175550111", source="=1+2")
    result = _nurture(get_env(), "export", "--phone", "(617) 555-0111")
    assert result.returncode == 0, result.stderr
    request = _csv(result.stdout)[0]
    assert (request["kind"], request["source"]) == ("request", "'=1+2")


def test_export_of_an_unknown_prospect_is_one_line_and_exit_1(db: str) -> None:
    result = _nurture(get_env(), "export", "--email", "nobody@example.com")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no contact with email 'nobody@example.com'"


def test_health_scheduler_passes_only_after_a_recent_tick(db: str) -> None:
    assert runner.invoke(app, ["health", "scheduler"]).exit_code == 1
    tick(utcnow() - timedelta(seconds=30))
    assert runner.invoke(app, ["health", "scheduler"]).exit_code == 0
    assert runner.invoke(app, ["health", "scheduler", "--max-age-s", "10"]).exit_code == 1


def test_health_worker_refuses_the_embedded_broker_with_a_reason(db: str) -> None:
    result = runner.invoke(app, ["health", "worker"])
    assert result.exit_code == 1
