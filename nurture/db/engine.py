"""Engines and sessions for SQLite (embedded) and PostgreSQL (production), one per process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
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
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        hide_parameters=HIDE_PARAMETERS,
    )


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
