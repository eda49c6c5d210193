"""A hot statement run on the database driver's own connection (PostgreSQL).

SQLAlchemy compiles a statement once and caches it, but each execution still computes the
statement's cache key, builds an execution context and wraps the result: for the worker's
take (one guarded UPDATE per message, with its EXISTS checks) that was half of the
statement's CPU, as much again as psycopg's own work. A `DriverStatement` is compiled once
per dialect to its SQL and the processed values of its constant parameters; each run
processes the given parameters with the same type processors SQLAlchemy would use and
executes on the DBAPI connection, as a server-side prepared statement.

Failures come back as SQLAlchemy raises them (`DBAPIError`, `connection_invalidated` when
the connection dropped, which is then invalidated), so callers retry and replace a dropped
connection as they do for `Connection.execute`. Other databases and drivers (SQLite) run
the statement through SQLAlchemy as usual.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: The constant parameters (values in the statement), processed for the driver.
    fixed: dict[str, Any]
    #: Each parameter's type processor, where its type has one.
    processors: dict[str, Callable[[Any], Any]]


class DriverStatement:
    """`statement`, run on the driver's connection; see the module's docstring."""

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows the statement returns, run on `conn` with `params`."""
        dialect = conn.dialect
        if (dialect.name, dialect.driver) != ("postgresql", "psycopg"):
            return [tuple(row) for row in conn.execute(self.statement, dict(params)).all()]
        compiled = self._for(dialect)
        values = dict(compiled.fixed)
        for key, value in params.items():
            process = compiled.processors.get(key)
            values[key] = value if process is None else process(value)
        dbapi_conn = conn.connection.dbapi_connection
        dbapi = dialect.loaded_dbapi
        try:
            assert dbapi_conn is not None
            cursor: Any = dbapi_conn.cursor()  # psycopg's: `prepare` is its own
            try:
                cursor.execute(compiled.sql, values, prepare=True)
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()
        except dbapi.Error as exc:
            dropped = dialect.is_disconnect(exc, dbapi_conn, None)
            if dropped:
                conn.invalidate(exc)
            raise DBAPIError.instance(
                compiled.sql,
                values,
                exc,
                dbapi.Error,
                hide_parameters=conn.engine.hide_parameters,  # what prospects wrote
                connection_invalidated=dropped,
                dialect=dialect,
            ) from exc

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(dialect.name) or self._compile(dialect)
                self._compiled[dialect.name] = compiled
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect)
        sql = str(compiled)
        if "POSTCOMPILE" in sql:
            raise ValueError("a DriverStatement takes no expanding parameters (IN lists)")
        fixed: dict[str, Any] = {}
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.bind_processor(dialect)
            if process is not None:
                processors[name] = process
            if not bind.required:
                fixed[name] = bind.value if process is None else process(bind.value)
        return _Compiled(sql, fixed, processors)
