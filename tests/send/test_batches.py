"""Send tasks carrying several deliveries (NURTURE_SEND_CHUNK > 1), on real workers and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from nurture.config import get_settings
from nurture.core.keys import SEND_QUEUE
from nurture.core.states import Channel, DeliveryStatus
from nurture.db import session_scope, upgrade
from nurture.dispatch.queue import create_app, publish_sends, split_evenly
from nurture.dispatch.tick import claim_due
from tests.conftest import midday_zone, use, wait_for
from tests.fakes.gate import TcpGate
from tests.helpers import deliveries, enroll, outbox
from tests.support.broker import broker_drained

pytestmark = pytest.mark.slow


@pytest.fixture
def on_redis(db: str, redis_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    use(env, monkeypatch, broker_url=redis_url, lease_s="10", dispatch_interval_s="0.5")
    return db


def test_the_same_batch_published_twice_sends_each_delivery_once(
    on_redis: str, start_worker
) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    for n in range(5):
        enroll(now, email=f"b{n}@example.com", phone=f"+1617555{n:04d}", timezone=midday_zone())
    with session_scope() as s:
        ids = claim_due(s, now=now, limit=100, lease=timedelta(seconds=300))
    assert len(ids) == 10
    app = create_app()
    publish_sends(app, ids, chunk=4)
    publish_sends(app, ids, chunk=4)
    start_worker(beat=False, concurrency=4)
    wait_for(
        lambda: all(d.status is DeliveryStatus.SENT for d in deliveries() if d.id in ids),
        timeout_s=30,
        message="the ten claimed deliveries sent",
    )
    wait_for(
        lambda: broker_drained(get_settings().broker_url, SEND_QUEUE),
        timeout_s=30,
        message="the duplicate batches to run too",
    )
    assert len(outbox("email")) == 5 and len(outbox("sms")) == 5


def test_a_scheduler_with_chunked_sends_delivers_every_due_message(
    on_redis: str, start_worker, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    use(env, monkeypatch, send_chunk="3")
    now = datetime.now(UTC)
    for n in range(4):
        enroll(now, email=f"c{n}@example.com", phone=f"+1617556{n:04d}", timezone=midday_zone())
    start_worker()

    def first_step_sent() -> set[tuple[int, Channel]]:
        return {
            (d.enrollment_id, d.channel)
            for d in deliveries()
            if d.step_id == "doctor-first" and d.status is DeliveryStatus.SENT
        }

    # Not the outbox's file count: by the time a loaded worker is up, the 4 s and 8 s steps
    # are due too, and their files can come before the last first-step row is marked sent.
    wait_for(
        lambda: len(first_step_sent()) == 8,
        timeout_s=45,
        message="the first step for four prospects",
    )


@pytest.fixture
def gate() -> Iterator[TcpGate]:
    """A gate between the worker and PostgreSQL."""
    tcp = TcpGate("127.0.0.1", 5432)
    yield tcp
    tcp.stop()


def test_send_tasks_retry_while_the_database_is_out_of_reach(
    pg_url: str,
    redis_url: str,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    start_worker,  # type: ignore[no-untyped-def]
    gate: TcpGate,
) -> None:
    # A lease far longer than the test: only the tasks' own retries can send these.
    use(env, monkeypatch, database_url=pg_url, broker_url=redis_url, lease_s="600")
    upgrade()
    now = datetime.now(UTC)
    for n in range(3):
        enroll(now, email=f"r{n}@example.com", phone=f"+1617557{n:04d}", timezone=midday_zone())
    with session_scope() as s:
        ids = claim_due(s, now=now, limit=100, lease=timedelta(seconds=600))
    assert len(ids) == 6
    gate.close()
    through_gate = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{gate.port}")
    assert through_gate != pg_url
    worker = start_worker(beat=False, extra_env={"NURTURE_DATABASE_URL": through_gate})
    publish_sends(create_app(), ids, chunk=2)  # tasks of 2, 2 and 2
    wait_for(lambda: "Retry in" in worker.log(), timeout_s=30, message="a send task retrying")
    assert {d.status for d in deliveries() if d.id in ids} == {DeliveryStatus.QUEUED}
    gate.open()
    wait_for(
        lambda: {d.status for d in deliveries() if d.id in ids} == {DeliveryStatus.SENT},
        timeout_s=60,
        message="the six deliveries sent once the database is back",
    )
    assert len(outbox("email")) == 3 and len(outbox("sms")) == 3


def test_ids_are_split_into_the_fewest_even_tasks() -> None:
    assert split_evenly(list(range(23)), 10) == [
        list(range(0, 8)),
        list(range(8, 16)),
        list(range(16, 23)),
    ]
    assert split_evenly([1, 2, 3], 10) == [[1, 2, 3]]
    assert split_evenly([1, 2, 3], 1) == [[1], [2], [3]]
    assert split_evenly([], 10) == []
