"""Migrations (`nurture db upgrade`) and whether the database has them all."""

from __future__ import annotations

import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from nurture.config import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = structlog.get_logger(__name__)


def alembic_config(url: str | None = None) -> Any:
    """Alembic's configuration for our migrations against `url` (default: the settings')."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Apply every migration (`nurture db upgrade`); safe to run again."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


#: What a process says, in one line, when the database lacks migrations.
NOT_MIGRATED = "the database is not migrated: run `nurture db upgrade`"
#: Where alembic keeps the migrations a database has.
VERSION_TABLE = "alembic_version"


@lru_cache(maxsize=1)
def _heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def missing_migrations(engine: Engine) -> str | None:
    """None when the database has every migration; else one line saying what to run.

    One query (alembic's version table), cheap enough for `/readyz`. Raises what the
    database raises when it cannot be reached.
    """
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return f"{NOT_MIGRATED} (it has no tables yet)"
        current = frozenset(conn.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")))
    if current == _heads():
        return None
    at, needs = ", ".join(sorted(current)) or "none", ", ".join(sorted(_heads()))
    return f"{NOT_MIGRATED} (it is at migration {at}; this version needs {needs})"


def check_at_start(process: str, *, url: str | None = None, attempts: int = 3) -> bool:
    """Say in one log line, as a process starts, that its database lacks migrations or
    cannot be reached; whether it is ready. A refusal is tried again a moment later (two
    processes starting together on a new SQLite file meet on its lock)."""
    from nurture.db.engine import get_engine

    for attempt in range(attempts):
        try:
            problem = missing_migrations(get_engine(url))
            break
        except OperationalError as exc:
            if attempt == attempts - 1:
                log.error("db.unreachable", process=process, error=str(exc.orig)[:200])
                return False
            time.sleep(0.5 * (attempt + 1))
        except Exception as exc:
            log.error("db.unreachable", process=process, error=type(exc).__name__)
            return False
    if problem is not None:
        log.error("db.not_migrated", process=process, hint=problem)
        return False
    return True
