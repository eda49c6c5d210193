"""A statement run on the driver's connection (`DriverStatement`) returns what SQLAlchemy's
execution returns, with the same type processing, and fails as it fails: parameters hidden,
a dropped connection invalidated so that the next statement gets a fresh one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from nurture.db import engine as db
from nurture.db.driver import DriverStatement
from nurture.db.types import UTCDateTime
from tests.conftest import PG_DSN

_META = sa.MetaData()
_T = sa.Table(
    "driver_probe",
    _META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime()),
    sa.Column("note", sa.String(20), unique=True),
)
#: The shape of the worker's take: a constant state, bound values, an aware datetime.
_TAKE = (
    sa.update(_T)
    .where(_T.c.id == sa.bindparam("key"), _T.c.state == "queued")
    .values(state="sending", tries=_T.c.tries + 1, at=sa.bindparam("when", type_=UTCDateTime()))
    .returning(_T.c.id, _T.c.tries, _T.c.at)
)
AT = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, env: dict[str, str]) -> Any:
    url = (
        env["NURTURE_DATABASE_URL"]
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    made = db.make_engine(url)
    _META.create_all(made)
    with made.begin() as conn:
        conn.execute(sa.insert(_T), [{"id": n, "state": "queued", "tries": 0} for n in (1, 2, 3)])
    yield made
    made.dispose()


def _autocommit(engine: Any) -> Any:
    if engine.dialect.name == "postgresql":
        return engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    return engine.begin()


def test_it_returns_and_changes_what_sqlalchemy_would(engine: Any) -> None:
    take = DriverStatement(_TAKE)
    with _autocommit(engine) as conn:
        won = take.rows(conn, {"key": 2, "when": AT + timedelta(hours=1)})
        lost = take.rows(conn, {"key": 2, "when": AT})  # no longer queued
        core = [tuple(r) for r in conn.execute(_TAKE, {"key": 3, "when": AT}).all()]
    assert [(i, tries) for i, tries, _ in won] == [(2, 1)] and lost == []
    assert [(i, tries) for i, tries, _ in core] == [(3, 1)]
    with engine.connect() as conn:
        rows = {r.id: (r.state, r.at) for r in conn.execute(sa.select(_T))}
    # The aware datetime went through UTCDateTime, as SQLAlchemy's own execution sends it.
    assert rows[2] == ("sending", AT + timedelta(hours=1))
    assert rows[3] == ("sending", AT)
    assert rows[1] == ("queued", None)


def test_a_failure_hides_the_parameters_as_sqlalchemy_does(engine: Any) -> None:
    clash = DriverStatement(
        sa.update(_T)
        .where(_T.c.id == sa.bindparam("key"))
        .values(note=sa.bindparam("note"))
        .returning(_T.c.id)
    )
    with _autocommit(engine) as conn:
        assert clash.rows(conn, {"key": 1, "note": "sore hip"}) == [(1,)]
    with pytest.raises(DBAPIError) as raised, _autocommit(engine) as conn:
        clash.rows(conn, {"key": 2, "note": "sore hip"})  # unique
    # As SQLAlchemy's own errors: the statement, never its parameters.
    assert "SQL parameters hidden" in str(raised.value)
    assert not raised.value.connection_invalidated


def test_a_dropped_connection_is_invalidated_and_replaced(pg_url: str, env: dict[str, str]) -> None:
    engine = db.make_engine(pg_url)
    _META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(_T), [{"id": 1, "state": "queued", "tries": 0}])
    take = DriverStatement(_TAKE)
    try:
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar()
        admin = sa.create_engine(PG_DSN, isolation_level="AUTOCOMMIT")
        with admin.connect() as a:
            a.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.dispose()
        with pytest.raises(DBAPIError) as raised:
            take.rows(conn, {"key": 1, "when": AT})
        assert raised.value.connection_invalidated
        assert conn.invalidated
        conn.close()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as fresh:
            assert [r[:2] for r in take.rows(fresh, {"key": 1, "when": AT})] == [(1, 1)]
    finally:
        engine.dispose()


def test_an_in_list_is_refused_when_compiled() -> None:
    from sqlalchemy.dialects import postgresql

    listed = DriverStatement(
        sa.update(_T).where(_T.c.state.in_(["queued", "held"])).values(tries=0)
    )
    with pytest.raises(ValueError, match="expanding"):
        listed._for(postgresql.psycopg.dialect())
