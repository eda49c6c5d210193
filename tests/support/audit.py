"""Audit-trail helpers for tests: write rows, and tamper with them as an attacker with
database access would (on PostgreSQL, switching the append-only triggers off first)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from nurture.db import get_engine
from nurture.db.tables import AuditRow
from nurture.people.actor import Actor
from nurture.people.audit import record


def write_rows(count: int, actor: Actor | None = None) -> None:
    """`count` rows by `actor` (the API key), one transaction each."""
    for n in range(count):
        with get_engine().begin() as conn:
            who = actor or Actor.api_key()
            record(conn, actor=who, action="delivery-retry", target=f"delivery:{n}")


def tamper(statement: str, **params: Any) -> None:
    """Run `statement` on the audit tables directly, with the append-only triggers off (as an
    attacker who owns the database would), then put them back."""
    engine = get_engine()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            conn.execute(sa.text(statement), params)
            conn.execute(sa.text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
            return
        triggers = conn.execute(
            sa.text(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            )
        ).all()
        for name, _ in triggers:
            conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
        conn.execute(sa.text(statement), params)
        for _, sql in triggers:
            conn.execute(sa.text(sql))


def audit_rows() -> list[dict[str, Any]]:
    """Every audit row, oldest first."""
    with get_engine().connect() as conn:
        query = sa.select(AuditRow.__table__).order_by(AuditRow.id)
        return [dict(row) for row in conn.execute(query).mappings()]
