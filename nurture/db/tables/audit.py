"""The audit trail: who did what, append-only and hash-chained (`nurture.people.audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nurture.db.tables.base import Base


class AuditRow(Base):
    """One thing a person, token, key or the system did. Rows are only ever appended
    (`record`); `hash` is an HMAC over the row and `prev_hash`, so `nurture audit verify`
    finds a row changed or removed. Triggers refuse UPDATE and DELETE (migration 0010)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_action_at", "action", "at"),
    )

    #: Given by `record` (the previous row's id + 1), never by a sequence: a gap is a deletion.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    #: person | token | key | system
    actor_kind: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[int | None]
    #: A person's email, a token's name, `api-key`, or the operating-system user of the CLI.
    actor_name: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    action: Mapped[str] = mapped_column(String(30))
    #: What it was done to, e.g. `contact:12`, `delivery:40`, `sequence:hip-pain`.
    target: Mapped[str | None] = mapped_column(String(200), index=True)
    #: Small facts (counts, statuses, field names); never message text.
    detail: Mapped[dict[str, Any] | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The one row (id 1) saying where the chain ends: how many rows, the last hash, and an
    HMAC over both, so deleting the newest rows shows too. Appends lock it, which keeps
    concurrent writers on one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
    seal: Mapped[str] = mapped_column(String(64))
