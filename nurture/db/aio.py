"""Async connections to PostgreSQL for the API's intake, on the server's own event loop.

A never-seen prospect is one statement (`intake/write_pg.py`). Run through the sync engine,
each request hops to a thread and back and goes through SQLAlchemy's execution layer; on the
event loop it is a psycopg call awaited where the request is. The pool is opened by the app's
lifespan, on the loop that then serves its requests (a pool belongs to one loop), and is
None on SQLite. Connections are autocommit: each statement commits on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.engine import make_url

from nurture.config import Settings

#: How long a request waits for a pooled connection before taking the sync path instead.
CONNECTION_WAIT_S = 5.0

AsyncPool = AsyncConnectionPool[AsyncConnection]
#: How its connections show in `pg_stat_activity`.
APPLICATION_NAME = "nurture-api-intake"


def libpq_url(database_url: str) -> str | None:
    """The libpq URL of a PostgreSQL `database_url` (its driver name dropped); None else."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def async_pool(settings: Settings) -> AsyncIterator[AsyncPool | None]:
    """A pool of `DB_POOL_SIZE` autocommit connections, opened in the background (a
    database down at start delays nothing); None when the database is not PostgreSQL."""
    conninfo = libpq_url(settings.database_url)
    if conninfo is None:
        yield None
        return
    pool = AsyncConnectionPool(
        conninfo,
        min_size=1,
        max_size=settings.db_pool_size,
        kwargs={"autocommit": True, "application_name": APPLICATION_NAME},
        timeout=CONNECTION_WAIT_S,
        open=False,
        name="intake",
    )
    await pool.open(wait=False)
    try:
        yield pool
    finally:
        await pool.close()
