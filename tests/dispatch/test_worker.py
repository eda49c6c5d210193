"""Real Celery workers on the real Redis, with SQLite and PostgreSQL: the whole path."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nurture.cli import admin as _admin_commands  # noqa: F401 - registers `stop`
from nurture.cli import app as cli
from nurture.config import get_settings
from nurture.core.keys import SEND_QUEUE, SEND_TASK
from nurture.core.states import DeliveryStatus
from nurture.dispatch.queue import create_app
from tests.conftest import midday_zone, use, wait_for
from tests.helpers import deliveries, enroll, later_steps_due, outbox, read_email, read_sms
from tests.support.broker import broker_drained

pytestmark = pytest.mark.slow


@pytest.fixture
def on_redis(db: str, redis_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    use(env, monkeypatch, broker_url=redis_url, lease_s="10", dispatch_interval_s="0.5")
    return db


#: For the tests where the database adds nothing to what a real worker does (due times, a
#: stop, its log): PostgreSQL only. Claiming once from two workers or from a broker's
#: duplicates depends on each database's locking, so those run on both.
ON_POSTGRESQL = pytest.mark.parametrize("db", ["postgresql"], indirect=True)


def _late_s() -> float:
    """How late a message may go: 5 s on a machine with a core to spare; on a loaded one
    (more runnable processes than cores, e.g. beside `stress-ng --cpu 2`) 5 s more for each
    load per core above 1: at load 20 on 2 cores the first step went 18 s late."""
    per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    return 5 + 5 * max(0.0, per_core - 1)


def _sent_times() -> dict[tuple[str, str], datetime]:
    return {
        (d.step_id, d.channel.value): d.sent_at
        for d in deliveries()
        if d.status is DeliveryStatus.SENT and d.sent_at
    }


@ON_POSTGRESQL
def test_a_request_goes_out_in_order_at_its_due_times(on_redis: str, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    started = datetime.now(UTC)
    enroll(started, timezone=midday_zone())
    sent = wait_for(
        lambda: t if len(t := _sent_times()) == 6 else None,
        timeout_s=120,  # a cap for a loaded machine; the lateness is checked below
        message="six messages sent",
    )
    assert isinstance(sent, dict)
    late_s = _late_s()
    for step, after_s in (("doctor-first", 0), ("self-test", 4), ("booking", 8)):
        for channel in ("email", "sms"):
            lateness = (sent[step, channel] - started).total_seconds() - after_s
            assert -0.5 <= lateness < late_s, (step, channel, lateness, late_s)
    # Never out of order; the same instant when a late tick found two steps due together.
    assert sent["doctor-first", "sms"] <= sent["self-test", "sms"] <= sent["booking", "sms"]
    emails = [read_email(p) for p in outbox("email")]
    assert len(emails) == 3 and all(m["To"] == "robin@example.com" for m in emails)
    sms = [read_sms(p) for p in outbox("sms")]
    assert len(sms) == 3 and all(m["to"] == "+16175550199" for m in sms)


def test_the_same_task_message_three_times_on_the_broker_sends_once(
    on_redis: str, start_worker
) -> None:  # type: ignore[no-untyped-def]
    from nurture.db import session_scope
    from nurture.dispatch.tick import claim_due

    enrolled = datetime.now(UTC)
    enroll(enrolled, timezone=midday_zone())
    from datetime import timedelta

    with session_scope() as s:
        # As of the enrolment, so only the first step is due however long it took (on a
        # loaded machine the 8 s step was due too by now).
        ids = claim_due(s, now=enrolled, limit=10, lease=timedelta(seconds=300))
    assert len(ids) == 2
    producer_app = create_app()
    for _ in range(3):
        for delivery_id in ids:
            producer_app.send_task(SEND_TASK, args=[delivery_id], queue=SEND_QUEUE)
    start_worker(beat=False, concurrency=8)
    wait_for(
        lambda: all(d.status is DeliveryStatus.SENT for d in deliveries() if d.id in ids),
        timeout_s=30,
        message="both claimed deliveries sent",
    )
    wait_for(
        lambda: broker_drained(get_settings().broker_url, SEND_QUEUE),
        timeout_s=30,
        message="the four duplicates to run too",
    )
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1


def test_two_workers_each_with_a_scheduler_send_every_message_once(
    on_redis: str, start_worker
) -> None:  # type: ignore[no-untyped-def]
    started = datetime.now(UTC)
    for n in range(10):
        enroll(started, email=f"p{n}@example.com", phone=f"+1617555{n:04d}", timezone=midday_zone())
    start_worker(name="a")
    start_worker(name="b")
    wait_for(
        lambda: len(outbox("email")) + len(outbox("sms")) >= 60,
        timeout_s=60,
        message="sixty messages",
    )
    time.sleep(1.5)
    recipients = [read_email(p)["To"] for p in outbox("email")]
    assert sorted(recipients) == sorted(f"p{n}@example.com" for n in range(10) for _ in range(3))
    keys = {
        (d.enrollment_id, d.step_id, d.channel)
        for d in deliveries()
        if d.status is DeliveryStatus.SENT
    }
    assert len(keys) == 60
    assert len(outbox("sms")) == 30


# The `fast` sequence, with room between its first two steps for a command to start and run
# on a loaded machine (4 s was not always enough: the stop then came after the second step).
@ON_POSTGRESQL
def test_stop_between_two_steps_prevents_every_later_send(on_redis: str, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone(), concern="fast")
    later_steps_due(datetime.now(UTC) + timedelta(hours=1))  # until the stop is made
    wait_for(
        lambda: len(outbox("email")) == 1 and len(outbox("sms")) == 1,
        timeout_s=20,
        message="the first step",
    )
    result = CliRunner().invoke(cli, ["stop", "--email", "robin@example.com", "--reason", "asked"])
    assert result.exit_code == 0, result.output
    assert "1 enrollment(s) stopped, 4 pending message(s) skipped" in result.output
    later_steps_due(datetime.now(UTC))
    time.sleep(4)  # eight dispatcher ticks with every skipped delivery due
    assert len(outbox("email")) == 1 and len(outbox("sms")) == 1
    assert {d.status for d in deliveries() if d.step_id != "doctor-first"} == {
        DeliveryStatus.SKIPPED
    }


@ON_POSTGRESQL
def test_the_worker_log_holds_no_message_bodies(on_redis: str, start_worker) -> None:  # type: ignore[no-untyped-def]
    worker = start_worker()
    enroll(datetime.now(UTC), timezone=midday_zone(), concern="fast hip trouble")
    wait_for(lambda: len(outbox("sms")) == 1, timeout_s=20, message="the first SMS")
    time.sleep(0.5)
    log = worker.log()
    assert "send.sent" in log
    body = read_sms(outbox("sms")[0])["body"]
    for fragment in (body[:40], "robin@example.com", "+16175550199", "hip trouble", "Robin"):
        assert fragment not in log, fragment
    assert not Path(worker.log_path).read_text().count("Traceback")
