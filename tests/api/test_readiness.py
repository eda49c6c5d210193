"""`/readyz` says 503 while no worker runs: the API answering does not mean anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from nurture.api import create_app
from nurture.core.clock import utcnow
from nurture.db import session_scope
from nurture.dispatch.heartbeat import (
    WORKER_FRESH_S,
    beat_worker,
    forget_worker,
    fresh_workers,
    worker_name,
)


@pytest.fixture
def client(db: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def test_readyz_is_503_without_a_worker_and_200_with_a_fresh_one(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["workers"].startswith("error: no worker")
    assert answer.json()["database"] == "ok" and answer.json()["broker"] == "ok"

    with session_scope() as session:
        beat_worker(session, worker_name(pid=11), utcnow())
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "ready" and answer.json()["workers"] == "ok"


def test_a_worker_counts_while_its_beat_is_fresh_and_not_once_it_stopped(db: str) -> None:
    now = utcnow()
    stale = now - timedelta(seconds=WORKER_FRESH_S + 1)
    with session_scope() as session:
        beat_worker(session, worker_name(pid=1), now)
        beat_worker(session, worker_name(pid=2), now - timedelta(seconds=WORKER_FRESH_S - 1))
        beat_worker(session, worker_name(pid=3), stale)
        beat_worker(session, "dispatcher", now)  # the scheduler's heartbeat is not a worker
    with session_scope() as session:
        assert fresh_workers(session, now) == 2
        forget_worker(session, worker_name(pid=1))
    with session_scope() as session:
        assert fresh_workers(session, now) == 1
