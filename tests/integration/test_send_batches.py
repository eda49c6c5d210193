"""Send tasks carrying several deliveries (NURTURE_SEND_CHUNK > 1), on real workers and Redis."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from nurture.db import session_scope
from nurture.dispatch import claim_due
from nurture.models import DeliveryStatus
from nurture.worker import create_app, publish_sends
from tests.conftest import midday_zone, use, wait_for
from tests.helpers import deliveries, enroll, outbox

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
    time.sleep(1.5)  # let the duplicate batches run too
    assert len(outbox("email")) == 5 and len(outbox("sms")) == 5


def test_a_scheduler_with_chunked_sends_delivers_every_due_message(
    on_redis: str, start_worker, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    use(env, monkeypatch, send_chunk="3")
    now = datetime.now(UTC)
    for n in range(4):
        enroll(now, email=f"c{n}@example.com", phone=f"+1617556{n:04d}", timezone=midday_zone())
    start_worker()
    wait_for(
        lambda: len(outbox("email")) + len(outbox("sms")) >= 8,
        timeout_s=45,
        message="the first step for four prospects",
    )
    first = {
        (d.enrollment_id, d.channel)
        for d in deliveries()
        if d.step_id == "doctor-first" and d.status is DeliveryStatus.SENT
    }
    assert len(first) == 8
