"""Read the audit trail back: the rows matching a filter, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select

from nurture.db.tables import AuditRow

#: The columns of a row as the CLI, the page and CSV show them, in this order.
FIELDS = ("id", "at", "actor_kind", "actor_name", "role", "ip", "action", "target", "detail")


@dataclass(frozen=True)
class AuditFilter:
    """Which rows: `since` (inclusive) and `until` (exclusive) are aware datetimes; `user`
    matches the actor's name (an email, a token's name) exactly, `target` a prefix."""

    since: datetime | None = None
    until: datetime | None = None
    user: str | None = None
    action: str | None = None
    target: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.since is not None:
            query = query.where(AuditRow.at >= self.since)
        if self.until is not None:
            query = query.where(AuditRow.at < self.until)
        if self.user:
            query = query.where(func.lower(AuditRow.actor_name) == self.user.lower())
        if self.action:
            query = query.where(AuditRow.action == self.action)
        if self.target:
            query = query.where(AuditRow.target.startswith(self.target, autoescape=True))
        return query


def count_rows(conn: Connection, where: AuditFilter) -> int:
    """How many rows match."""
    return int(conn.execute(where.apply(select(func.count()).select_from(AuditRow))).scalar_one())


def find_rows(
    conn: Connection, where: AuditFilter, *, limit: int | None = None, offset: int = 0
) -> Iterator[dict[str, Any]]:
    """The matching rows, newest first, as dicts of `FIELDS`."""
    columns = [AuditRow.__table__.c[name] for name in FIELDS]
    query = where.apply(select(*columns)).order_by(AuditRow.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query).mappings():
        yield dict(row)


def flat(row: dict[str, Any]) -> dict[str, str]:
    """A row as text for CSV and tables: ISO time, `detail` as `key=value` pairs."""
    text = {name: "" if row.get(name) is None else str(row[name]) for name in FIELDS}
    text["at"] = row["at"].isoformat(timespec="seconds")
    detail = row.get("detail") or {}
    text["detail"] = " ".join(f"{key}={value}" for key, value in sorted(detail.items()))
    return text
