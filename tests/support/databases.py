"""Each test process's own databases. Under pytest-xdist several run at once: each has its
own Redis database (`own_redis_db`, claimed, so that two runs of the suite on one machine
never share one), and each test its own SQLite file or PostgreSQL schema.

Migrated databases, fast: each test process migrates one database of each kind once, and
every test that asks for a migrated database gets a copy of it.

SQLite: the migrated file is copied to the test's path. PostgreSQL: the migrated schema is
dumped once (`pg_dump --schema-only`-like, with the rows the migrations wrote) and the dump is
replayed into the test's own empty schema, in one transaction. When a copy cannot be made
(the file is there already, the schema has tables, no `pg_dump`), the test's database is
migrated as before, so the result is the same database either way.

PostgreSQL, faster still (`MigratedTemplates.reused_postgres`): a `db` test is handed this
process's own reused schema, emptied at the start of every test (TRUNCATE of every table but
`alembic_version`, sequences restarted, the audit trail's no-truncate trigger off for that one
statement) in a few tens of milliseconds, where a new schema's replay and drop take half a
second. Only after checking that the last test left it as the migrations made it (the same
tables, columns, indexes, triggers, functions and head revision); when it did not, or when
emptying it waits on a lock a test left behind, the test gets a new schema from the dump.
A test that asks for `pg_url` itself still gets an empty schema of its own.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nurture.db import reset_engines, upgrade


def xdist_index() -> int:
    """This test process's number under pytest-xdist (gw0 -> 0, gw1 -> 1, …); 0 without."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else 0


#: The Redis databases a test process may claim, in the order it tries them: 0 is left to a
#: nurture running on the same machine, 12 to `make bench` (bench/stack.py).
CLAIMABLE_REDIS_DBS = (9, 10, 11, 13, 14, 15, *range(1, 9))
#: The lock file held open for the whole life of the process that claimed a database.
_claimed: list[IO[bytes]] = []


def own_redis_db() -> int:
    """The Redis database this test process owns: the Nth of NURTURE_TEST_REDIS_DBS
    ("0,1,15") for xdist worker N, or NURTURE_TEST_REDIS_DB + N when that is set; else the
    first of `CLAIMABLE_REDIS_DBS` no other test process on this machine holds.

    Every test empties its Redis database and real workers consume from it, so two runs of
    the suite at once (two checkouts, a CI beside a developer's run) must never share one: a
    claim is an exclusive `flock` on a file named after the Redis server and database, held
    until the process ends (the kernel lets go of it even when the process is killed)."""
    index = xdist_index()
    listed = [int(db) for db in os.environ.get("NURTURE_TEST_REDIS_DBS", "").split(",") if db]
    if listed:
        if index >= len(listed):
            raise pytest.UsageError(
                f"NURTURE_TEST_REDIS_DBS lists {len(listed)} databases for more test processes"
            )
        return listed[index]
    if "NURTURE_TEST_REDIS_DB" in os.environ:
        return (int(os.environ["NURTURE_TEST_REDIS_DB"]) + index) % 16
    return _claim_redis_db()


def _claim_redis_db() -> int:
    host = os.environ.get("NURTURE_TEST_REDIS_HOST", "127.0.0.1")
    port = os.environ.get("NURTURE_TEST_REDIS_PORT", "6379")
    folder = Path(tempfile.gettempdir()) / "nurture-test-redis"
    folder.mkdir(exist_ok=True)
    for db in CLAIMABLE_REDIS_DBS:
        lock = open(folder / f"{host}-{port}-{db}.lock", "ab")  # held open: the claim
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _claimed.append(lock)
        return db
    raise pytest.UsageError(
        f"every Redis database nurture's tests may use on {host}:{port} "
        f"({len(CLAIMABLE_REDIS_DBS)}) is held by another test process on this machine: "
        "wait for those runs, or set NURTURE_TEST_REDIS_DBS"
    )


#: Stands for the schema's name in the kept PostgreSQL dump.
_SCHEMA = "nurture_template_schema"


class MigratedTemplates:
    """One test process's migrated SQLite file and PostgreSQL dump, made on first use."""

    def __init__(self, folder: Path, pg_dsn: str) -> None:
        self.folder = folder
        self.pg_dsn = pg_dsn
        self._sqlite: Path | None = None
        self._pg_dump: str | None = None
        #: The reused schema, and what the migrations made of it (`_shape`).
        self._reused: str | None = None
        self._reused_shape: str | None = None
        self._given_up: list[str] = []
        self._admin: sa.Engine | None = None

    def migrate(self, url: str) -> None:
        """Bring the (new, empty) database at `url` to the head migration."""
        backend = make_url(url).get_backend_name()
        copied = self._copy_sqlite(url) if backend == "sqlite" else self._copy_postgres(url)
        if not copied:
            upgrade(url)

    def _copy_sqlite(self, url: str) -> bool:
        path = make_url(url).database
        if not path or path == ":memory:" or Path(path).exists():
            return False
        if self._sqlite is None:
            template = self.folder / f"template-{uuid.uuid4().hex[:8]}.db"
            upgrade(f"sqlite:///{template}")
            reset_engines()
            self._sqlite = template
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._sqlite, path)
        return True

    def _copy_postgres(self, url: str) -> bool:
        schema = _search_path(url)
        if schema is None:
            return False
        dump = self._postgres_dump()
        if dump is None:
            return False
        admin = sa.create_engine(self.pg_dsn, poolclass=sa.NullPool)
        try:
            with admin.begin() as conn:
                tables = conn.scalar(
                    sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = :s"), {"s": schema}
                )
                if tables:
                    return False
                # The raw driver: no parameters, so a `%` in a function body (the audit
                # trail's trigger) is not read as a placeholder.
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute(dump.replace(_SCHEMA, f'"{schema}"'))
        finally:
            admin.dispose()
        return True

    def reused_postgres(self) -> str | None:
        """The URL of this process's reused schema, empty and at the head migration; None
        without pg_dump (the caller then makes and migrates a schema of its own)."""
        if self._postgres_dump() is None:
            return None
        if self._admin is None:
            # One connection kept open for the whole run: a new one per test costs more than
            # emptying the schema does.
            self._admin = sa.create_engine(
                self.pg_dsn, pool_size=1, max_overflow=0, pool_pre_ping=True
            )
        admin = self._admin
        if self._reused is not None and not self._emptied(admin, self._reused):
            self._given_up.append(self._reused)
            self._reused = None
        if self._reused is None:
            schema = f"nurture_test_{uuid.uuid4().hex[:10]}"
            with admin.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            self._copy_postgres(_schema_url(self.pg_dsn, schema))
            with admin.begin() as conn:
                self._reused_shape = _shape(conn, schema)
            self._reused = schema
        return _schema_url(self.pg_dsn, self._reused)

    def _emptied(self, admin: sa.Engine, schema: str) -> bool:
        """Empty the reused schema's tables; False when it is no longer as migrated, or a
        lock left behind keeps it from being emptied within 10 s."""
        try:
            with admin.begin() as conn:
                conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                if _shape(conn, schema) != self._reused_shape:
                    return False
                tables = conn.scalars(
                    sa.text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = :s"
                        " AND tablename <> 'alembic_version'"
                    ),
                    {"s": schema},
                ).all()
                # Triggers off, foreign keys' too, for this transaction: the audit trail
                # refuses a DELETE, and the tables can then go in any order. DELETE, not
                # TRUNCATE: a few rows each, and TRUNCATE makes every table's files anew.
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("; ".join(f'DELETE FROM "{schema}"."{table}"' for table in tables))
                conn.execute(
                    sa.text(
                        "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c"
                        " JOIN pg_namespace n ON n.oid = c.relnamespace"
                        " WHERE n.nspname = :s AND c.relkind = 'S'"
                    ),
                    {"s": schema},
                )
        except sa.exc.DBAPIError:
            return False
        return True

    def close(self) -> None:
        """Drop the reused schema and any given up (without waiting on a lock for long)."""
        if self._admin is not None:
            self._admin.dispose()
            self._admin = None
        schemas = [*self._given_up, *([self._reused] if self._reused else [])]
        if not schemas:
            return
        admin = sa.create_engine(self.pg_dsn, poolclass=sa.NullPool)
        try:
            for schema in schemas:
                try:
                    with admin.begin() as conn:
                        conn.execute(sa.text("SET LOCAL lock_timeout = '10s'"))
                        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                except sa.exc.DBAPIError:
                    pass  # still locked by something a test left running: left behind
        finally:
            admin.dispose()
        self._reused = None
        self._given_up = []

    def _postgres_dump(self) -> str | None:
        """The migrated schema as SQL, `_SCHEMA` standing for its name; None without
        pg_dump (the tests then migrate each schema)."""
        if self._pg_dump is not None:
            return self._pg_dump or None
        self._pg_dump = ""
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return None
        schema = f"nurture_template_{uuid.uuid4().hex[:10]}"
        admin = sa.create_engine(self.pg_dsn, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            upgrade(f"{self.pg_dsn}?options=-csearch_path%3D{schema}")
            reset_engines()
            self._pg_dump = _dump(pg_dump, self.pg_dsn, schema)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
        return self._pg_dump or None


def _schema_url(dsn: str, schema: str) -> str:
    return f"{dsn}?options=-csearch_path%3D{schema}"


def _shape(conn: sa.Connection, schema: str) -> str:
    """What the migrations made of `schema`, as one string: its tables' and indexes' columns
    and types, triggers, functions and the head revision (not the rows)."""
    shape = conn.scalar(
        sa.text(
            """
            SELECT string_agg(part, ',' ORDER BY part) FROM (
              SELECT c.relname || '.' || a.attname || ':' || c.relkind::text || ':'
                     || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text
                     AS part
                FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = :s AND a.attnum > 0 AND NOT a.attisdropped
              UNION ALL
              SELECT 'trigger ' || t.tgname || ':' || t.tgenabled::text
                FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = :s AND NOT t.tgisinternal
              UNION ALL
              SELECT 'function ' || p.proname
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = :s
            ) AS parts
            """
        ),
        {"s": schema},
    )
    head = conn.scalar(
        sa.text(f"SELECT string_agg(version_num, ',') FROM \"{schema}\".alembic_version")
    )
    return f"{shape}|{head}"


def _search_path(url: str) -> str | None:
    """The schema a test's PostgreSQL URL selects (`?options=-csearch_path=NAME`)."""
    options = make_url(url).query.get("options", "")
    text = options if isinstance(options, str) else " ".join(options)
    prefix = "-csearch_path="
    return text.removeprefix(prefix) if text.startswith(prefix) and " " not in text else None


def _dump(pg_dump: str, dsn: str, schema: str) -> str:
    """`pg_dump` of one schema (tables, sequences, indexes and rows) as plain SQL statements,
    without psql's meta-commands or the schema's own CREATE; "" when pg_dump fails."""
    url = make_url(dsn)
    args = [pg_dump, "--schema", schema, "--inserts", "--no-owner", "--no-privileges"]
    args += ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432)]
    args += ["-U", url.username or "postgres", "-d", url.database or "postgres"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        return ""
    keep = [
        line
        for line in done.stdout.splitlines()
        if not line.startswith(("\\", "--", "SET ", "SELECT pg_catalog.set_config"))
        and line.strip() != f"CREATE SCHEMA {schema};"
    ]
    return "\n".join(keep).replace(f"{schema}.", f"{_SCHEMA}.")
