"""Every change of a delivery's state, and the event that records it: this module only.

A move is a compare-and-set: the row changes only if it is still in one of the states the
move may leave (`leaving`), so two writers racing (a worker and a webhook, two workers, a
stop and a send) can never both win, and a late writer never moves a row back. A move that
wins writes one `delivery_events` row with its source (dispatcher, worker, control, ops,
webhook:…) and detail; no other module inserts events.

Moves into the in-flight states (`queued`, `sending`) write no event: every delivery makes
them on every attempt, and the row itself keeps them (`queued_at`, `attempts`,
`lease_expires_at`). Any other move ends the lease.

Four shapes, one rule:
- `move`: one delivery (on PostgreSQL the UPDATE and its event are one statement);
- `move_many`: a statement built once with `transition` (the dispatcher's claims, a stop's
  skips, a batch's claims), its events written together;
- `move_each`: a batch of outcomes, each with its own values (one statement on PostgreSQL);
- `note`: an event that changes no state (a booking link clicked).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    String,
    Table,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from nurture.core.states import DeliveryStatus
from nurture.db.tables import Delivery, DeliveryEvent

_D: Table = Delivery.__table__  # type: ignore[assignment]
_EV: Table = DeliveryEvent.__table__  # type: ignore[assignment]
#: Moves into these states leave no event (see the module's docstring).
IN_FLIGHT = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.SENDING})
#: What an event's detail may hold (the column's size).
DETAIL_CHARS = 500

Bind = Session | Connection


def _dialect(bind: Bind) -> str:
    return bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name


def clip(text: str | None) -> str | None:
    """An event's detail, cut to what the column holds."""
    return text[:DETAIL_CHARS] if text else None


def transition(
    to: DeliveryStatus,
    leaving: Iterable[DeliveryStatus],
    *,
    where: Sequence[Any] = (),
    values: Mapping[str, Any] | None = None,
    returning: Sequence[Any] = (),
) -> Any:
    """The compare-and-set UPDATE of a move, for `move_many`: rows still in `leaving` (and
    matching `where`) go to `to` with `values`, returning their id first (then `returning`).

    Build it once (with bound parameters) and keep it: building and hashing statements cost
    more than running them on the dispatcher's and the worker's hot paths.
    """
    changes: dict[str, Any] = {"status": to, **(values or {})}
    if to not in IN_FLIGHT:
        changes.setdefault("lease_expires_at", None)
    # On the table (Core), unless the whole ORM row is wanted back: the ORM's bulk-update
    # machinery costs more than the statement itself.
    orm = any(r is Delivery for r in returning)
    stmt = update(Delivery if orm else _D).where(_D.c.status.in_(tuple(leaving)), *where)
    stmt = stmt.values(changes).returning(_D.c.id, *returning)
    return stmt.execution_options(synchronize_session=False) if orm else stmt


def move_many(
    bind: Bind,
    statement: Any,
    params: Mapping[str, Any] | None,
    *,
    to: DeliveryStatus,
    at: datetime,
    source: str,
    detail: str | None = None,
) -> list[Any]:
    """Run a `transition` statement; the rows it moved (id first), their events written."""
    rows = list(bind.execute(statement, params or {}).all())
    if rows and to not in IN_FLIGHT:
        bind.execute(
            insert(_EV),
            [
                {
                    "delivery_id": row[0],
                    "at": at,
                    "status": to.value,
                    "source": source,
                    "detail": clip(detail),
                }
                for row in rows
            ],
        )
    return rows


def move(
    bind: Bind,
    delivery_id: int,
    to: DeliveryStatus,
    *,
    at: datetime,
    leaving: Iterable[DeliveryStatus],
    source: str,
    detail: str | None = None,
    values: Mapping[str, Any] | None = None,
    external_id: str | None = None,
) -> bool:
    """Move one delivery to `to` if it is still in one of `leaving`, with `values` set and
    its event (`source`, `detail`, a provider's `external_id`) written; whether it moved."""
    leaving = tuple(leaving)
    changes: dict[str, Any] = {"updated_at": at, **(values or {})}
    if to not in IN_FLIGHT:
        changes.setdefault("lease_expires_at", None)
    params = {
        **changes,
        "delivery_id": delivery_id,
        "status": to,
        "event_status": to.value,
        "source": source,
        "detail": clip(detail),
        "external_id": external_id,
    }
    if _dialect(bind) == "postgresql":
        statement = _move_statement(leaving, tuple(sorted(changes)), to in IN_FLIGHT)
        return bool(bind.execute(statement, params).rowcount)  # type: ignore[attr-defined]
    # SQLite has no data-modifying CTE: the UPDATE, then the event, in the same transaction.
    done = bind.execute(
        update(_D)
        .where(_D.c.id == delivery_id, _D.c.status.in_(leaving))
        .values(status=to, **changes)
    )
    moved = bool(done.rowcount)  # type: ignore[attr-defined]
    if moved and to not in IN_FLIGHT:
        bind.execute(
            insert(_EV).values(
                delivery_id=delivery_id,
                at=at,
                status=to.value,
                source=source,
                detail=clip(detail),
                external_id=external_id,
            )
        )
    return moved


@lru_cache(maxsize=64)
def _move_statement(
    leaving: tuple[DeliveryStatus, ...], columns: tuple[str, ...], quiet: bool
) -> Any:
    """`move` on PostgreSQL in one round trip: the UPDATE as a CTE feeding the event's INSERT,
    which adds a row only if the UPDATE changed one. Built once per shape, bound parameters."""
    changed = (
        update(_D)
        .where(_D.c.id == bindparam("delivery_id"), _D.c.status.in_(leaving))
        .values(
            status=bindparam("status", type_=_D.c.status.type),
            **{c: bindparam(c, type_=_D.c[c].type) for c in columns},
        )
        .returning(_D.c.id)
    )
    if quiet:
        return changed
    cte = changed.cte("changed")
    return (
        insert(_EV)
        .from_select(
            ["delivery_id", "at", "status", "source", "detail", "external_id"],
            select(
                cte.c.id,
                bindparam("updated_at", type_=_EV.c.at.type),
                bindparam("event_status", type_=_EV.c.status.type),
                bindparam("source", type_=_EV.c.source.type),
                bindparam("detail", type_=_EV.c.detail.type),
                bindparam("external_id", type_=_EV.c.external_id.type),
            ),
        )
        .add_cte(cte)
    )


@dataclass(frozen=True)
class Move:
    """One delivery's move in `move_each`, with the columns a send's outcome sets."""

    delivery_id: int
    to: DeliveryStatus
    at: datetime
    #: The event's detail.
    detail: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    #: When a `retrying` delivery is due again (None keeps the row's).
    due_at: datetime | None = None
    #: The provider's columns, set when it accepted the message (None keeps the row's).
    provider: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The row's new columns besides the status, as `move` takes them."""
        values: dict[str, Any] = {
            "error_code": self.error_code,
            "error_detail": self.error_detail,
        }
        for name in ("due_at", "provider", "provider_message_id", "sent_at"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return values


def move_each(
    conn: Connection,
    moves: Sequence[Move],
    *,
    leaving: Iterable[DeliveryStatus],
    source: str,
) -> set[int]:
    """Several deliveries' moves, each with its own values and event; the ids that moved.

    One statement for them all on PostgreSQL (the values as arrays), else `move` for each.
    """
    leaving = tuple(leaving)
    if conn.dialect.name != "postgresql" or len(moves) < 2:
        return {
            m.delivery_id
            for m in moves
            if move(
                conn,
                m.delivery_id,
                m.to,
                at=m.at,
                leaving=leaving,
                source=source,
                detail=m.detail,
                values=m.values(),
            )
        }
    params = {
        "ids": [m.delivery_id for m in moves],
        "statuses": [m.to.value for m in moves],
        "ats": [m.at for m in moves],
        "codes": [m.error_code for m in moves],
        "error_details": [m.error_detail for m in moves],
        "due_ats": [m.due_at for m in moves],
        "providers": [m.provider for m in moves],
        "provider_message_ids": [m.provider_message_id for m in moves],
        "sent_ats": [m.sent_at for m in moves],
        "details": [clip(m.detail) for m in moves],
        "source": source,
    }
    return set(conn.execute(_move_each_statement(leaving), params).scalars().all())


@lru_cache(maxsize=8)
def _move_each_statement(leaving: tuple[DeliveryStatus, ...]) -> Any:
    """`move_each` on PostgreSQL: the values come as arrays, one per column, so the
    statement is built once. Columns a row leaves NULL (the provider's, `due_at`) keep what
    the delivery had."""
    arrays: dict[str, tuple[str, TypeEngine[Any]]] = {
        "id": ("ids", Integer()),
        "status": ("statuses", String()),
        "at": ("ats", DateTime(timezone=True)),
        "code": ("codes", String()),
        "error_detail": ("error_details", String()),
        "due_at": ("due_ats", DateTime(timezone=True)),
        "provider": ("providers", String()),
        "provider_message_id": ("provider_message_ids", String()),
        "sent_at": ("sent_ats", DateTime(timezone=True)),
        "detail": ("details", String()),
    }
    v = (
        func.unnest(*(bindparam(name, type_=ARRAY(t)) for name, t in arrays.values()))
        .table_valued(*(column(c, t) for c, (_, t) in arrays.items()))
        .render_derived(name="v")
    )
    changed = (
        update(_D)
        .where(_D.c.id == v.c.id, _D.c.status.in_(leaving))
        .values(
            status=v.c.status,
            updated_at=v.c.at,
            lease_expires_at=None,
            error_code=v.c.code,
            error_detail=v.c.error_detail,
            due_at=func.coalesce(v.c.due_at, _D.c.due_at),
            provider=func.coalesce(v.c.provider, _D.c.provider),
            provider_message_id=func.coalesce(v.c.provider_message_id, _D.c.provider_message_id),
            sent_at=func.coalesce(v.c.sent_at, _D.c.sent_at),
        )
        .returning(_D.c.id, v.c.status, v.c.at, v.c.detail)
        .cte("changed")
    )
    return (
        insert(_EV)
        .from_select(
            ["delivery_id", "at", "status", "source", "detail"],
            select(
                changed.c.id,
                changed.c.at,
                changed.c.status,
                bindparam("source", type_=_EV.c.source.type),
                changed.c.detail,
            ),
        )
        .returning(_EV.c.delivery_id)
        .add_cte(changed)
    )


def note(bind: Bind, delivery_id: int, *, at: datetime, source: str, detail: str) -> None:
    """An event in a delivery's history that changes nothing (its status as it stands)."""
    bind.execute(
        insert(_EV).from_select(
            ["delivery_id", "at", "status", "source", "detail"],
            select(
                _D.c.id,
                literal(at, _EV.c.at.type),
                _D.c.status,
                literal(source, _EV.c.source.type),
                literal(clip(detail), _EV.c.detail.type),
            ).where(_D.c.id == delivery_id),
        )
    )


def attach_provider_id(bind: Bind, delivery_id: int, values: Mapping[str, Any]) -> None:
    """Keep the provider's id of a delivery a report already moved on (no state change)."""
    bind.execute(
        update(_D)
        .where(_D.c.id == delivery_id, _D.c.provider_message_id.is_(None))
        .values(**values)
    )
