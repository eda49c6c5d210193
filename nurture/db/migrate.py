"""Migrations (`nurture db upgrade`) and whether the database has them all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nurture.config import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Apply every migration (`nurture db upgrade`); safe to run again."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")
