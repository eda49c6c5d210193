"""The engines nurture makes keep what prospects wrote out of database errors (and so out of
logs), and replace a pooled PostgreSQL connection dropped while it sat idle."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nurture.db import engine as db
from tests.conftest import PG_DSN, use


def test_database_errors_do_not_carry_the_statements_values(env: dict[str, str]) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    engine = db.make_engine(env["NURTURE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            conn.execute(text("INSERT INTO no_such_table VALUES (:note)"), {"note": "sore hip"})
    except DBAPIError as exc:
        assert "sore hip" not in str(exc)
        assert "hidden" in str(exc)
    else:
        raise AssertionError("the INSERT should have failed")
    finally:
        engine.dispose()


def _backend_pid(engine: Any) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar())


def _terminate(pid: int) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
    admin.dispose()


def test_a_pooled_connection_dropped_while_idle_is_replaced_before_use(
    pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As after a database restart: the idle connection's first use pings it, finds it
    gone and connects again, instead of failing the statement."""
    use(env, monkeypatch, database_url=pg_url)
    monkeypatch.setattr(db, "PING_IDLE_S", 0.05)
    engine = db.make_engine(pg_url)
    try:
        first = _backend_pid(engine)  # back in the pool
        _terminate(first)
        time.sleep(0.1)  # idle longer than PING_IDLE_S
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()


def test_a_connection_back_a_moment_ago_is_not_pinged(
    pg_url: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(env, monkeypatch, database_url=pg_url)
    monkeypatch.setattr(db, "PING_IDLE_S", 60.0)
    engine = db.make_engine(pg_url)
    pings: list[object] = []
    real = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or real(c))
    try:
        for _ in range(5):
            _backend_pid(engine)
        assert pings == []  # one round trip per statement saved
        monkeypatch.setattr(db, "PING_IDLE_S", 0.0)
        _backend_pid(engine)
        assert len(pings) == 1
    finally:
        engine.dispose()
