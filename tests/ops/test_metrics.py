"""`/metrics`: counters from every process that sent, and gauges read at scrape time."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

import nurture.cli.ops  # noqa: F401 - registers `health`
from nurture.api import create_app
from nurture.cli import app as cli
from nurture.config import get_settings
from nurture.core.clock import utcnow
from nurture.core.keys import SEND_QUEUE, SEND_TASK
from nurture.core.states import DeliveryStatus
from nurture.db import session_scope
from nurture.dispatch.queue import create_app as create_celery
from nurture.ops.status import collect_status
from tests.conftest import midday_zone, use, wait_for
from tests.helpers import enroll
from tests.ops_helpers import ids_of, rows, seed_now, send, tick

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


@pytest.fixture
def client(db: str) -> TestClient:
    return TestClient(create_app())


def test_sends_are_counted_by_channel_step_and_state(client: TestClient) -> None:
    seed_now()
    samples = scrape(client)
    attempted = Counter(
        (d.channel.value, d.step_id, d.status.value) for d in rows() if d.attempts > 0
    )
    assert {"sent", "failed", "unknown", "retrying"} <= {state for _, _, state in attempted}
    for (channel, step, state), count in attempted.items():
        got = value(samples, "nurture_sends_total", channel=channel, step=step, status=state)
        assert got == count, (channel, step, state)
    assert total(samples, "nurture_sends_total") == sum(attempted.values())


def test_provider_errors_are_counted_by_provider_and_code(client: TestClient) -> None:
    seed_now()
    samples = scrape(client)
    assert (
        value(
            samples, "nurture_provider_errors_total", provider="twilio", channel="sms", code="21211"
        )
        == 1
    )
    assert total(samples, "nurture_provider_errors_total", code="timeout") == 2
    assert total(samples, "nurture_provider_errors_total", code="429") == 2
    assert total(samples, "nurture_provider_errors_total") == 6  # the sent ones are no error


def test_the_lateness_histogram_measures_due_to_hand_over(client: TestClient) -> None:
    due = utcnow() - timedelta(minutes=10)
    ids = ids_of(enroll(due, timezone=midday_zone()))[:2]
    tick(due)
    send(ids, due + timedelta(seconds=90))  # a backlog: handed over 90 s after due
    samples = scrape(client)
    for channel in ("email", "sms"):
        assert value(samples, "nurture_send_lateness_seconds_count", channel=channel) == 1
        assert value(samples, "nurture_send_lateness_seconds_sum", channel=channel) == 90
        bucket = "nurture_send_lateness_seconds_bucket"
        assert value(samples, bucket, channel=channel, le="60.0") == 0
        assert value(samples, bucket, channel=channel, le="120.0") == 1


def test_backlog_states_and_queue_depth_are_read_at_scrape_time(client: TestClient) -> None:
    seed_now()
    producer = create_celery(get_settings())
    with producer.producer_or_acquire() as prod:
        for n in range(3):
            producer.send_task(SEND_TASK, args=[n], queue=SEND_QUEUE, producer=prod)
    producer.close()
    samples = scrape(client)
    with session_scope() as s:
        figures = collect_status(s, now=utcnow())
    assert value(samples, "nurture_due_backlog") == figures["due_now"] > 0
    assert value(samples, "nurture_due_next_24h") == figures["next_24h"]
    for state, count in figures["deliveries"].items():
        assert value(samples, "nurture_deliveries", status=state) == count
    assert value(samples, "nurture_queue_depth", queue=SEND_QUEUE) == 3
    assert value(samples, "nurture_ops_source_up", source="database") == 1
    assert value(samples, "nurture_ops_source_up", source="broker") == 1


@pytest.mark.slow
# The counters live in files, whatever the database: PostgreSQL alone (two workers sending
# once on SQLite is tests/dispatch/test_worker.py's).
@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_counters_from_several_worker_processes_add_up_and_move(
    db: str,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    use(env, monkeypatch, broker_url=redis_url, lease_s="10", dispatch_interval_s="0.5")
    client = TestClient(create_app())
    assert total(scrape(client), "nurture_sends_total") == 0
    start_worker(name="a")
    start_worker(name="b", beat=False)
    started = utcnow()
    for n in range(8):
        enroll(started, email=f"p{n}@example.com", phone=f"+1617555{n:04d}", timezone=midday_zone())

    def sent() -> int:
        return sum(d.status is DeliveryStatus.SENT for d in rows())

    wait_for(lambda: sent() >= 16, timeout_s=30, message="the first step sent")
    first = total(scrape(client), "nurture_sends_total", status="sent")
    assert first >= 16
    wait_for(lambda: sent() == 48, timeout_s=60, message="all 48 messages sent")
    # The counter is written just after the row commits: the last ones a moment later.
    samples = wait_for(
        lambda: (
            s if total(s := scrape(client), "nurture_sends_total", status="sent") >= 48 else None
        ),
        timeout_s=30,
        message="the counter to reach the 48 rows",
    )
    assert isinstance(samples, dict)
    assert total(samples, "nurture_sends_total", status="sent") == 48 > first
    assert total(samples, "nurture_send_lateness_seconds_count") == 48
    for step in ("doctor-first", "self-test", "booking"):
        assert total(samples, "nurture_sends_total", step=step, status="sent") == 16
    writers = {p.name for p in get_settings().metrics_dir.glob("counter_*.db")}
    assert len(writers) >= 2, writers  # each worker process wrote its own file

    # With both workers up, the queue drained and the scheduler ticking, status is healthy.
    status = CliRunner().invoke(cli, ["status", "--json"])
    assert status.exit_code == 0, status.output
    figures = json.loads(status.output)
    assert (figures["workers"], figures["due_now"], figures["healthy"]) == (2, 0, True)

    # While they run, a container health check finds them: any worker, or this host's only.
    assert CliRunner().invoke(cli, ["health", "worker", "--all"]).exit_code == 0
    local = CliRunner().invoke(cli, ["health", "worker", "--timeout-s", "1"])
    assert local.exit_code == 1  # the test workers are named a@host and b@host
