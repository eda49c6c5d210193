"""On PostgreSQL the API writes a never-seen prospect on its event loop, through the pool
its lifespan opens (`db/aio.py`), and keeps every guarantee of the threadpool path: the same
answer and rows, the known contact's path, the Idempotency-Key, and a dropped connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from nurture.api import create_app
from nurture.db import session_scope
from nurture.db.aio import AsyncPool, libpq_url
from nurture.db.tables import ConsentEvent, ConsultationRequest, Contact, Delivery, Enrollment
from tests.conftest import use

AUTH = {"Authorization": "Bearer test-key"}
GOOD = {
    "first_name": "Dana",
    "email": "dana@example.com",
    "phone": "+16175550134",
    "concern": "outer hip pain",
}


@pytest.fixture
def client(
    pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    from nurture.db import upgrade

    use(env, monkeypatch, database_url=pg_url)
    upgrade()
    with TestClient(create_app()) as test_client:
        yield test_client


def _pool_requests(client: TestClient) -> int:
    stats: dict[str, int] = client.app.state.db_pool.get_stats()  # type: ignore[attr-defined]
    return stats.get("requests_num", 0)


async def _backend_pids(pool: AsyncPool) -> list[int]:
    """The server process of every connection the pool holds."""
    async with AsyncExitStack() as stack:
        conns = [
            await stack.enter_async_context(pool.connection())
            for _ in range(pool.get_stats()["pool_size"])
        ]
        return [conn.info.backend_pid for conn in conns]


def _counts() -> tuple[int, ...]:
    with session_scope() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(model)) or 0
            for model in (Contact, ConsultationRequest, Enrollment, Delivery, ConsentEvent)
        )


def _schedule_as_stored(enrollment_id: int) -> list[dict[str, Any]]:
    with session_scope() as s:
        rows = s.scalars(select(Delivery).where(Delivery.enrollment_id == enrollment_id))
        return sorted(
            (
                {
                    "delivery_id": d.id,
                    "step": d.step_id,
                    "channel": d.channel.value,
                    "due_at": d.due_at.isoformat(),
                    "status": d.status.value,
                }
                for d in rows
            ),
            key=lambda r: r["delivery_id"],
        )


def test_a_new_prospect_is_written_through_the_apps_pool_and_answered_as_stored(
    client: TestClient,
) -> None:
    before = _pool_requests(client)
    response = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    assert response.status_code == 201, response.text
    assert _pool_requests(client) == before + 1
    body = response.json()
    assert len(body["schedule"]) == 8
    stored = _schedule_as_stored(body["enrollment"]["id"])
    assert sorted(body["schedule"], key=lambda r: r["delivery_id"]) == stored
    assert _counts() == (1, 1, 1, 8, 2)


def test_a_known_contact_then_takes_the_path_that_updates_it(client: TestClient) -> None:
    first = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    second = client.post(
        "/v1/consultation-requests", json={**GOOD, "last_name": "Reyes"}, headers=AUTH
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["already_enrolled"] is True
    with session_scope() as s:
        assert s.scalars(select(Contact)).one().last_name == "Reyes"
    assert _counts()[:4] == (1, 2, 1, 8)


def test_a_request_with_an_idempotency_key_is_not_written_on_the_loop(
    client: TestClient,
) -> None:
    before = _pool_requests(client)
    headers = {**AUTH, "Idempotency-Key": "k-1"}
    first = client.post("/v1/consultation-requests", json=GOOD, headers=headers)
    again = client.post("/v1/consultation-requests", json=GOOD, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert _pool_requests(client) == before
    assert _counts()[2] == 1


def test_a_dropped_connection_falls_back_to_the_threadpool_and_enrolls_once(
    client: TestClient, pg_url: str
) -> None:
    warm = client.post("/v1/consultation-requests", json=GOOD, headers=AUTH)
    assert warm.status_code == 201
    # PostgreSQL ends the pool's connections, as a restart or a failover would.
    pids = client.portal.call(_backend_pids, client.app.state.db_pool)  # type: ignore[attr-defined,union-attr]
    admin = sa.create_engine(pg_url)
    with admin.connect() as conn:
        for pid in pids:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()
    other = {**GOOD, "email": "lee@example.com", "phone": "+16175550199"}
    response = client.post("/v1/consultation-requests", json=other, headers=AUTH)
    assert response.status_code == 201, response.text
    assert _counts()[:4] == (2, 2, 2, 16)


def test_the_pool_is_for_postgresql_only() -> None:
    assert libpq_url("sqlite:///var/nurture.db") is None
    url = "postgresql+psycopg://u:p@db:5432/n?options=-csearch_path%3Dx"
    assert libpq_url(url) == "postgresql://u:p@db:5432/n?options=-csearch_path%3Dx"
