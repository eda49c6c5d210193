"""Connections for statements that commit one by one: autocommit on PostgreSQL, one held
connection for a whole batch of sends, and retrying a repeatable write on a fresh connection
when the database drops the one it was on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

log = structlog.get_logger(__name__)
_T = TypeVar("_T")
#: Tries of a repeatable write when the database connection drops under it.
WRITE_ATTEMPTS = 6


class HeldConnection:
    """The autocommit connection a batch holds (PostgreSQL); a new one once the database
    has dropped it, so that one cut does not fail the rest of the batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = self._open()

    def _open(self) -> Connection:
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def get(self) -> Connection:
        if self.conn.invalidated:
            self.conn.close()
            self.conn = self._open()
        return self.conn

    def close(self) -> None:
        self.conn.close()


#: The connection a batch of sends holds, see `batch_connection`.
_held: ContextVar[HeldConnection | None] = ContextVar("nurture_batch_connection", default=None)


@contextmanager
def batch_connection(engine: Engine) -> Iterator[None]:
    """Hold one autocommit connection for a batch's statements (PostgreSQL).

    Each statement still commits on its own; the batch only saves checking a connection out
    (and pinging it) twice per message. It is held during the provider calls too, so when
    the pool's steady connections are all out (many threads, slow provider), the batch takes
    one per statement instead of waiting for one.
    """
    pool: Any = engine.pool
    busy = hasattr(pool, "checkedout") and pool.checkedout() >= pool.size()
    if engine.dialect.name != "postgresql" or _held.get() is not None or busy:
        yield
        return
    held = HeldConnection(engine)
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.close()


@contextmanager
def autocommit(engine: Engine, *, fresh: bool = False) -> Iterator[Connection]:
    """A connection whose statements commit one by one (PostgreSQL), else a transaction.

    Inside `batch_connection` that is the batch's connection, unless `fresh`."""
    held = None if fresh else _held.get()
    if held is not None:
        yield held.get()
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def write_retrying(engine: Engine, write: Callable[[Connection], _T], *, what: str) -> _T:
    """Run `write` (safe to repeat) on an autocommit connection; when the database drops or
    refuses the connection, run it again on a fresh one, a few times."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            # A retry takes a fresh connection: the batch's own may be the one that broke.
            with autocommit(engine, fresh=attempt > 0) as conn:
                return write(conn)
        except DBAPIError as exc:
            # Dropped, or refused (restarting, out of connections): worth another try.
            lost = exc.connection_invalidated or isinstance(exc, OperationalError)
            if not lost or attempt == WRITE_ATTEMPTS - 1:
                raise
            log.warning("db.write_retry", what=what, attempt=attempt + 1)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")
