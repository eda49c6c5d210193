"""Every change of a delivery's state, and the event that records it: this module only.

A move is a compare-and-set: the row changes only if it is still in one of the states the
move may leave (`leaving`), so two writers racing (a worker and a webhook, two workers, a
stop and a send) can never both win, and a late writer never moves a row back. A move that
wins writes one `delivery_events` row with its source (dispatcher, worker, control, ops,
webhook:…) and detail; no other module inserts events.

Moves into the in-flight states (`queued`, `sending`) write no event: every delivery makes
them on every attempt, and the row itself keeps them (`queued_at`, `attempts`,
`lease_expires_at`). Any other move ends the lease.

Four shapes, one rule: `move` (one delivery; on PostgreSQL the UPDATE and its event are one
statement), `move_many` (a statement built once with `transition`: the dispatcher's claims,
a stop's skips, a worker's takes), `move_each` (a batch of outcomes, each with its own
values; one statement on PostgreSQL) and `note` (an event that changes no state).
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

from nurture.core.states import DeliveryStatus
from nurture.db.tables import Delivery, DeliveryEvent

_D: Table = Delivery.__table__  # type: ignore[assignment]
_EV: Table = DeliveryEvent.__table__  # type: ignore[assignment]
#: Moves into these states leave no event (see the module's docstring).
IN_FLIGHT = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.SENDING})
#: What an event's detail may hold (the column's size).
DETAIL_CHARS = 500
_EVENT_COLUMNS = ["delivery_id", "at", "status", "source", "detail", "external_id"]
#: Columns a batch's outcome may leave NULL to keep what the delivery had.
_KEPT_WHEN_NULL = ("due_at", "provider", "provider_message_id", "sent_at")

Bind = Session | Connection


def _clip(text: str | None) -> str | None:
    return text[:DETAIL_CHARS] if text else None  # what an event's detail column holds


def _changes(to: DeliveryStatus, values: Mapping[str, Any] | None) -> dict[str, Any]:
    changes = dict(values or {})
    if to not in IN_FLIGHT:
        changes.setdefault("lease_expires_at", None)  # a lease is only for the in-flight
    return changes


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
    # On the table (Core), unless the whole ORM row is wanted back: the ORM's bulk-update
    # machinery costs more than the statement itself.
    orm = any(r is Delivery for r in returning)
    leaving = tuple(leaving)
    # One state as `=`, not an IN list: a `DriverStatement` takes no expanding parameter.
    was = _D.c.status == leaving[0] if len(leaving) == 1 else _D.c.status.in_(leaving)
    stmt = update(Delivery if orm else _D).where(was, *where)
    stmt = stmt.values(status=to, **_changes(to, values)).returning(_D.c.id, *returning)
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
        event = {"at": at, "status": to.value, "source": source, "detail": _clip(detail)}
        bind.execute(insert(_EV), [{"delivery_id": row[0], **event} for row in rows])
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
    """Move one delivery to `to` (not an in-flight state: see `transition`) if it is still
    in one of `leaving`, with `values` set and its event (`source`, `detail`, a provider's
    `external_id`) written; whether it moved."""
    assert to not in IN_FLIGHT, "in-flight moves are claims and takes: use transition()"
    leaving = tuple(leaving)
    changes = {"updated_at": at, **_changes(to, values)}
    event = {"at": at, "status": to.value, "source": source, "detail": _clip(detail)}
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name == "postgresql":
        statement = _move_statement(leaving, tuple(sorted(changes)))
        params = {
            **changes,
            **event,
            "delivery_id": delivery_id,
            "to": to,
            "external_id": external_id,
        }
        # Its RETURNING tells: psycopg's rowcount of an INSERT fed by a CTE is always -1.
        return bind.execute(statement, params).first() is not None
    # SQLite has no data-modifying CTE: the UPDATE, then the event, in the same transaction.
    done = bind.execute(
        update(_D)
        .where(_D.c.id == delivery_id, _D.c.status.in_(leaving))
        .values(status=to, **changes)
    )
    moved = bool(done.rowcount)  # type: ignore[attr-defined]
    if moved:
        bind.execute(insert(_EV).values(delivery_id=delivery_id, external_id=external_id, **event))
    return moved


def _recorded(changed: Any, *event: Any) -> Any:
    """`changed` (an UPDATE returning `id`) as a CTE feeding the events' INSERT: one event per
    row it changed, in the same statement (PostgreSQL). `event`: the other columns."""
    cte = changed.cte("changed")
    return insert(_EV).from_select(_EVENT_COLUMNS, select(cte.c.id, *event)).add_cte(cte)


@lru_cache(maxsize=64)
def _move_statement(leaving: tuple[DeliveryStatus, ...], columns: tuple[str, ...]) -> Any:
    """`move` on PostgreSQL in one round trip; built once per shape, with bound parameters."""
    changed = (
        update(_D)
        .where(_D.c.id == bindparam("delivery_id"), _D.c.status.in_(leaving))
        .values(
            status=bindparam("to", type_=_D.c.status.type),
            **{c: bindparam(c, type_=_D.c[c].type) for c in columns},
        )
        .returning(_D.c.id)
    )
    event = (bindparam(c, type_=_EV.c[c].type) for c in _EVENT_COLUMNS[1:])
    return _recorded(changed, *event).returning(_EV.c.delivery_id)


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
    #: None keeps the row's value (the due time of a retry, the provider's columns).
    due_at: datetime | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    sent_at: datetime | None = None

    def values(self) -> dict[str, Any]:
        """The row's new columns besides the status, as `move` takes them."""
        given = {k: v for k in _KEPT_WHEN_NULL if (v := getattr(self, k)) is not None}
        return {"error_code": self.error_code, "error_detail": self.error_detail, **given}


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
    params: dict[str, Any] = {f"{name}s": [] for name in _ARRAYS}
    for m in moves:  # (not dataclasses.asdict: it deep-copies every field, a tenth of a ms)
        row = {name: getattr(m, name) for name in _ARRAYS}
        row.update(to=m.to.value, detail=_clip(m.detail))
        for name in _ARRAYS:
            params[f"{name}s"].append(row[name])
    params["source"] = source
    return set(conn.execute(_move_each_statement(leaving), params).scalars().all())


#: `move_each`'s columns on PostgreSQL, one array each, and their types.
_ARRAYS: dict[str, Any] = {
    "delivery_id": Integer(),
    "to": String(),
    "at": DateTime(timezone=True),
    "detail": String(),
    "error_code": String(),
    "error_detail": String(),
    "due_at": DateTime(timezone=True),
    "provider": String(),
    "provider_message_id": String(),
    "sent_at": DateTime(timezone=True),
}


@lru_cache(maxsize=8)
def _move_each_statement(leaving: tuple[DeliveryStatus, ...]) -> Any:
    """`move_each` on PostgreSQL, built once: the values come as arrays, one per column.
    Columns a row leaves NULL (the provider's, `due_at`) keep what the delivery had."""
    v = (
        func.unnest(*(bindparam(f"{name}s", type_=ARRAY(t)) for name, t in _ARRAYS.items()))
        .table_valued(*(column(name, t) for name, t in _ARRAYS.items()))
        .render_derived(name="v")
    )
    kept = {
        c: func.coalesce(v.c[c], _D.c[c])
        for c in ("due_at", "provider", "provider_message_id", "sent_at")
    }
    changed = (
        update(_D)
        .where(_D.c.id == v.c.delivery_id, _D.c.status.in_(leaving))
        .values(
            status=v.c.to,
            updated_at=v.c.at,
            lease_expires_at=None,
            error_code=v.c.error_code,
            error_detail=v.c.error_detail,
            **kept,
        )
        .returning(_D.c.id, v.c.to, v.c.at, v.c.detail)
    )
    cte = changed.cte("changed")
    event = select(
        cte.c.id,
        cte.c.at,
        cte.c.to,
        bindparam("source", type_=_EV.c.source.type),
        cte.c.detail,
        literal(None, _EV.c.external_id.type),
    )
    return insert(_EV).from_select(_EVENT_COLUMNS, event).add_cte(cte).returning(_EV.c.delivery_id)


def note(bind: Bind, delivery_id: int, *, at: datetime, source: str, detail: str) -> None:
    """An event in a delivery's history that changes nothing (its status as it stands)."""
    event = select(
        _D.c.id,
        literal(at, _EV.c.at.type),
        _D.c.status,
        literal(source, _EV.c.source.type),
        literal(_clip(detail), _EV.c.detail.type),
        literal(None, _EV.c.external_id.type),
    ).where(_D.c.id == delivery_id)
    bind.execute(insert(_EV).from_select(_EVENT_COLUMNS, event))
