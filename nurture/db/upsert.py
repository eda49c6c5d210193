"""INSERT … ON CONFLICT, on PostgreSQL and SQLite alike: the one place that picks the
dialect's statement, so callers say what they mean (ignore a duplicate, or update it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Result
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(bind: Session | Connection, entity: Any) -> Any:
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(entity)


def insert_or_ignore(
    bind: Session | Connection,
    entity: Any,
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    returning: Sequence[Any] = (),
) -> Result[Any]:
    """Insert one row unless one with the same `conflict` columns exists (then nothing).

    With `returning`, the result has a row only when this call inserted it.
    """
    stmt = _insert(bind, entity).values(**values).on_conflict_do_nothing(index_elements=conflict)
    if returning:
        stmt = stmt.returning(*returning)
    return bind.execute(stmt)


def insert_or_update(
    bind: Session | Connection,
    entity: Any,
    values: Mapping[str, Any],
    *,
    conflict: Sequence[str],
    update: Mapping[str, Any],
    returning: Sequence[Any] = (),
) -> Result[Any]:
    """Insert one row, or set `update` on the row with the same `conflict` columns; with
    `returning`, the row as it is now."""
    stmt = _insert(bind, entity).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=conflict, set_=dict(update))
    if returning:
        stmt = stmt.returning(*returning)
    return bind.execute(stmt)
