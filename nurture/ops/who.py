"""Who did it, read back from the audit trail: which person answered each reply, and who
marked a prospect booked. The trail is the one record of who acted (`people/audit.py`), so
the pages name people from it rather than from a second copy kept beside each row."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.db.tables import AuditRow
from nurture.people.audit import AuditAction


def shown_name(row: AuditRow) -> str:
    """A person by name; a machine token or the API key said as what it is."""
    if row.actor_kind == "person":
        return row.actor_name
    if row.actor_kind == "token":
        return f"token {row.actor_name}"
    return "the API key" if row.actor_kind == "key" else row.actor_name


def answerers(session: Session, reply_ids: set[int]) -> dict[int, list[str]]:
    """For each reply, who answered it, oldest answer first (one name per answer queued)."""
    if not reply_ids:
        return {}
    rows = session.scalars(
        select(AuditRow)
        .where(
            AuditRow.action == AuditAction.REPLY_ANSWERED.value,
            AuditRow.target.in_([f"reply:{r}" for r in reply_ids]),
        )
        .order_by(AuditRow.id)
    )
    found: dict[int, list[str]] = defaultdict(list)
    for row in rows:
        found[int((row.target or "reply:0").partition(":")[2])].append(shown_name(row))
    return found


def booked_by(session: Session, contact_id: int) -> str | None:
    """Who last marked the prospect booked by hand (None: a calendar booked it, or nobody)."""
    rows = session.scalars(
        select(AuditRow)
        .where(
            AuditRow.action == AuditAction.PROSPECT_ACTION.value,
            AuditRow.target == f"contact:{contact_id}",
        )
        .order_by(AuditRow.id.desc())
    )
    for row in rows:
        detail = row.detail or {}
        if detail.get("done") == "booked" or detail.get("button") == "booked":
            return shown_name(row)
    return None
