"""Every change of a delivery's state, and the event that records it: this module only
(and its batch form, `outcomes.py`).

A move is a compare-and-set: the row changes only if it is still in one of the states the
move may leave (`leaving`), so two writers racing (a worker and a webhook, two workers, a
stop and a send) can never both win, and a late writer never moves a row back. A move that
wins writes one `delivery_events` row with its source (dispatcher, worker, control, ops,
webhook:…) and detail; no other module (but `outcomes.py`) inserts events.

Moves into the in-flight states (`queued`, `sending`) write no event: every delivery makes
them on every attempt, and the row itself keeps them (`queued_at`, `attempts`,
`lease_expires_at`). Any other move ends the lease.

Four shapes, one rule: `move` (one delivery; on PostgreSQL the UPDATE and its event are one
statement), `move_many` (a statement built once with `transition`: the dispatcher's claims,
a stop's skips, a worker's takes), `move_each` (a batch of outcomes, each with its own
values; one statement on PostgreSQL, in `db/outcomes.py`, which builds on `move`) and `note`
(an event that changes no state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session

from nurture.core.states import DeliveryStatus
from nurture.db.tables import Delivery, DeliveryEvent

#: The tables a move writes, as Core tables (`outcomes.py` writes a batch's moves to them too).
DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
EVENTS: Table = DeliveryEvent.__table__  # type: ignore[assignment]
_D, _EV = DELIVERIES, EVENTS
#: Moves into these states leave no event (see the module's docstring).
IN_FLIGHT = frozenset({DeliveryStatus.QUEUED, DeliveryStatus.SENDING})
#: What an event's detail may hold (the column's size).
DETAIL_CHARS = 500
#: The columns an event row is written with.
EVENT_COLUMNS = ["delivery_id", "at", "status", "source", "detail", "external_id"]

Bind = Session | Connection


def clip_detail(text: str | None) -> str | None:
    """`text` cut to what an event's detail column holds (None for none)."""
    return text[:DETAIL_CHARS] if text else None


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
        event = {"at": at, "status": to.value, "source": source, "detail": clip_detail(detail)}
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
    event = {"at": at, "status": to.value, "source": source, "detail": clip_detail(detail)}
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
    return insert(_EV).from_select(EVENT_COLUMNS, select(cte.c.id, *event)).add_cte(cte)


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
    event = (bindparam(c, type_=_EV.c[c].type) for c in EVENT_COLUMNS[1:])
    return _recorded(changed, *event).returning(_EV.c.delivery_id)


def note(bind: Bind, delivery_id: int, *, at: datetime, source: str, detail: str) -> None:
    """An event in a delivery's history that changes nothing (its status as it stands)."""
    event = select(
        _D.c.id,
        literal(at, _EV.c.at.type),
        _D.c.status,
        literal(source, _EV.c.source.type),
        literal(clip_detail(detail), _EV.c.detail.type),
        literal(None, _EV.c.external_id.type),
    ).where(_D.c.id == delivery_id)
    bind.execute(insert(_EV).from_select(EVENT_COLUMNS, event))
