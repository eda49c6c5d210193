"""Engines and sessions for SQLite (embedded) and PostgreSQL (production), one per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from nurture.config import get_settings

#: A database error's text leaves out the statement's values: they hold names, addresses
#: and what prospects wrote, and errors end up in logs.
HIDE_PARAMETERS = True


def make_engine(url: str) -> Engine:
    """An engine tuned for our access pattern: short transactions from many threads."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            hide_parameters=HIDE_PARAMETERS,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let pysqlite stop issuing its own BEGIN; we issue BEGIN IMMEDIATE below so
            # writers queue on the lock instead of failing with "database is locked".
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            # The busy timeout first: switching a new file to WAL takes a lock that another
            # process (a worker and its scheduler starting together) may hold a moment.
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    settings = get_settings()
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        hide_parameters=HIDE_PARAMETERS,
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection that sat unused this long is pinged before it is handed out.
PING_IDLE_S = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only when it sat idle (`PING_IDLE_S`).

    SQLAlchemy's `pool_pre_ping` pings on every checkout: one more round trip per
    statement on a worker's hot path. A connection back in the pool a moment ago is as
    good as its last statement showed; one idle longer may have been dropped by a
    restart or a proxy, and is replaced before use (a `DisconnectionError` makes the
    pool connect again). A connection dropped within that moment fails its statement:
    repeatable writes run again on a fresh one (`connections.write_retrying`), and the
    pool replaces every connection older than the failure.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_IDLE_S:
            return  # new, or back a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise DisconnectionError("the pooled connection was dropped while idle")


_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


#: Threads of a worker ask for the engine at once when it starts: without the lock each
#: could make its own engine, and each engine its own pool of connections.
_lock = threading.RLock()


def get_engine(url: str | None = None) -> Engine:
    """The process's engine for `url` (default: the settings' database)."""
    url = url or get_settings().database_url
    with _lock:
        if url not in _engines:
            _engines[url] = make_engine(url)
        return _engines[url]


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    url = url or get_settings().database_url
    with _lock:
        if url not in _factories:
            _factories[url] = sessionmaker(get_engine(url), expire_on_commit=False)
        return _factories[url]


def reset_engines(*, close: bool = True) -> None:
    """Forget cached engines: after settings change, or (close=False) in a forked child,
    which must not close the parent's connections."""
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=close)
        _engines.clear()
        _factories.clear()


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    with session_factory(url)() as session, session.begin():
        yield session
