"""Each test process's own databases. Under pytest-xdist several run at once: each has its
own Redis database (`own_redis_db`), and each test its own SQLite file or PostgreSQL schema.

Migrated databases, fast: each test process migrates one database of each kind once, and
every test that asks for a migrated database gets a copy of it.

SQLite: the migrated file is copied to the test's path. PostgreSQL: the migrated schema is
dumped once (`pg_dump --schema-only`-like, with the rows the migrations wrote) and the dump is
replayed into the test's own empty schema, in one transaction. When a copy cannot be made
(the file is there already, the schema has tables, no `pg_dump`), the test's database is
migrated as before, so the result is the same database either way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from nurture.db import reset_engines, upgrade


def xdist_index() -> int:
    """This test process's number under pytest-xdist (gw0 -> 0, gw1 -> 1, …); 0 without."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else 0


def own_redis_db() -> int:
    """The Redis database this test process owns: the Nth of NURTURE_TEST_REDIS_DBS
    ("0,1,15") for xdist worker N, else NURTURE_TEST_REDIS_DB + N."""
    index = xdist_index()
    listed = [int(db) for db in os.environ.get("NURTURE_TEST_REDIS_DBS", "").split(",") if db]
    if listed:
        if index >= len(listed):
            raise pytest.UsageError(
                f"NURTURE_TEST_REDIS_DBS lists {len(listed)} databases for more test processes"
            )
        return listed[index]
    return (int(os.environ.get("NURTURE_TEST_REDIS_DB", "9")) + index) % 16


#: Stands for the schema's name in the kept PostgreSQL dump.
_SCHEMA = "nurture_template_schema"


class MigratedTemplates:
    """One test process's migrated SQLite file and PostgreSQL dump, made on first use."""

    def __init__(self, folder: Path, pg_dsn: str) -> None:
        self.folder = folder
        self.pg_dsn = pg_dsn
        self._sqlite: Path | None = None
        self._pg_dump: str | None = None

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
