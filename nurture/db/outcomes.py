"""A batch's outcomes, each delivery with its own values and event (`move_each`).

The same rule as every move in `transitions.py`: a compare-and-set from the states a move
may leave, and one `delivery_events` row for each delivery that moved. On PostgreSQL the
whole batch is one statement (the values as arrays); elsewhere it is `move` for each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    DateTime,
    Integer,
    String,
    bindparam,
    column,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from nurture.core.states import DeliveryStatus
from nurture.db.transitions import DELIVERIES as _D
from nurture.db.transitions import EVENT_COLUMNS, clip_detail, move
from nurture.db.transitions import EVENTS as _EV

#: Columns a batch's outcome may leave NULL to keep what the delivery had.
_KEPT_WHEN_NULL = ("due_at", "provider", "provider_message_id", "sent_at")


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
        row.update(to=m.to.value, detail=clip_detail(m.detail))
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
    return insert(_EV).from_select(EVENT_COLUMNS, event).add_cte(cte).returning(_EV.c.delivery_id)
