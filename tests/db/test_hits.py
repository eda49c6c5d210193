"""The rate-limit counter, the same on Redis and on the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from nurture.config import get_settings
from nurture.db import session_scope
from nurture.db.hits import RedisHitCounter, SqlHitCounter, count_hit, hit_counter
from nurture.db.tables import FormHit
from tests.conftest import use

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["database", "redis"])
def backend(
    request: pytest.FixtureRequest, db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "redis":
        use(env, monkeypatch, broker_url=request.getfixturevalue("redis_url"))
    return str(request.param)


def test_the_counter_follows_the_broker(backend: str) -> None:
    expected = RedisHitCounter if backend == "redis" else SqlHitCounter
    assert isinstance(hit_counter(get_settings()), expected)


def test_hits_count_up_within_a_window_and_start_again_in_the_next(backend: str) -> None:
    settings = get_settings()
    counts = [
        count_hit(settings, "k", window_s=3600, now=T0 + timedelta(minutes=m)) for m in (0, 1, 59)
    ]
    assert counts == [1, 2, 3]
    assert count_hit(settings, "other", window_s=3600, now=T0) == 1, "keys apart"
    assert count_hit(settings, "k", window_s=3600, now=T0 + timedelta(hours=1)) == 1


def test_the_database_forgets_windows_that_ended(db: str) -> None:
    settings = get_settings()
    for n in range(3):
        count_hit(settings, f"ip-{n}", window_s=60, now=T0)
    count_hit(settings, "later", window_s=60, now=T0 + timedelta(minutes=5))
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(FormHit)) == 1


def test_with_redis_unreachable_the_database_counts_instead(
    db: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import free_port

    use(env, monkeypatch, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    settings = get_settings()
    assert isinstance(hit_counter(settings), RedisHitCounter)
    counts = [count_hit(settings, "ip:1", window_s=3600, now=T0) for _ in range(2)]
    assert counts == [1, 2]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(FormHit)) == 1
