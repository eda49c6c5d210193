"""Recording what happened to a delivery: its new state and the event that says so.

`record_outcome` is how a send ends (`sending|unknown → sent|failed|retrying|unknown`): on
PostgreSQL one statement, the UPDATE as a CTE feeding the event's INSERT, built once with
bound parameters; `record_outcomes` does the same for a batch's sends in one statement.
`batch_connection` lets a batch of sends share one autocommit connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from collections.abc import Sequence as Seq
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
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
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from nurture.models import Delivery, DeliveryEvent, DeliveryStatus

if TYPE_CHECKING:
    from nurture.sending import SendContext

_DELIVERIES: Table = Delivery.__table__  # type: ignore[assignment]
_EVENTS: Table = DeliveryEvent.__table__  # type: ignore[assignment]
#: Tries to record a send's outcome when the database connection drops under it.
OUTCOME_ATTEMPTS = 6
log = structlog.get_logger(__name__)
#: States a worker's outcome may overwrite: `unknown` too, as the real outcome beats a guess.
FINISHABLE = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)


def _values(
    status: DeliveryStatus,
    now: datetime,
    code: str | None,
    detail: str | None,
    due_at: datetime | None,
    attempts: int | None,
    extra: dict[str, str | datetime | None] | None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "updated_at": now,
        "lease_expires_at": None,
        "error_code": code,
        "error_detail": detail,
        **(extra or {}),
    }
    if due_at is not None:
        values["due_at"] = due_at
    if attempts is not None:
        values["attempts"] = attempts
    return values


def _note(code: str | None, detail: str | None) -> str | None:
    note = code if detail is None else f"{code}: {detail}"
    return note[:500] if note else None


def set_status(
    session: Session,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    code: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    attempts: int | None = None,
    from_states: tuple[DeliveryStatus, ...] | None = None,
    extra: dict[str, str | datetime | None] | None = None,
) -> bool:
    """Move one delivery to `status` and log the event, in the caller's transaction."""
    # Core statements on the tables: the ORM's bulk-update and unit-of-work machinery cost
    # more than the round trips here, and nothing in the session needs refreshing.
    stmt = update(_DELIVERIES).where(_DELIVERIES.c.id == delivery_id)
    if from_states:
        stmt = stmt.where(_DELIVERIES.c.status.in_(from_states))
    values = _values(status, now, code, detail, due_at, attempts, extra)
    done = session.execute(stmt.values(**values))
    changed = bool(done.rowcount)  # type: ignore[attr-defined]
    if changed:
        session.execute(
            insert(_EVENTS).values(
                delivery_id=delivery_id,
                at=now,
                status=status.value,
                source="worker",
                detail=_note(code, detail),
            )
        )
    return changed


def record_outcome(
    ctx: SendContext,
    delivery_id: int,
    status: DeliveryStatus,
    now: datetime,
    *,
    code: str | None = None,
    detail: str | None = None,
    due_at: datetime | None = None,
    extra: dict[str, str | datetime | None] | None = None,
) -> bool:
    """The outcome of a send (`sending|unknown → status`) with its event, committed."""
    engine = engine_of(ctx)
    if engine.dialect.name != "postgresql":  # SQLite: two statements in one transaction
        with ctx.sessions.begin() as session:
            return set_status(
                session,
                delivery_id,
                status,
                now,
                code=code,
                detail=detail,
                due_at=due_at,
                from_states=FINISHABLE,
                extra=extra,
            )
    values = _values(status, now, code, detail, due_at, None, extra)
    params = {
        **values,
        "delivery_id": delivery_id,
        "note": _note(code, detail),
        "status_value": status.value,
    }
    statement = _outcome_statement(tuple(sorted(values)))
    return bool(_run_outcome(engine, statement, params, delivery_id))


@lru_cache(maxsize=16)
def _outcome_statement(columns: tuple[str, ...]) -> Any:
    """One round trip: the UPDATE as a CTE feeding the event's INSERT, which adds a row only
    if the UPDATE changed one. Built once per set of columns, with bound parameters."""
    d, ev = _DELIVERIES, _EVENTS
    changed = (
        update(d)
        .where(d.c.id == bindparam("delivery_id"), d.c.status.in_(FINISHABLE))
        .values({c: bindparam(c, type_=d.c[c].type) for c in columns})
        .returning(d.c.id)
        .cte("changed")
    )
    return (
        insert(ev)
        .from_select(
            ["delivery_id", "at", "status", "source", "detail"],
            select(
                changed.c.id,
                bindparam("updated_at", type_=ev.c.at.type),
                bindparam("status_value", type_=ev.c.status.type),
                literal("worker", ev.c.source.type),
                bindparam("note", type_=ev.c.detail.type),
            ),
        )
        .add_cte(changed)
    )


@dataclass(frozen=True)
class Outcome:
    """How one send ended: recorded by `record_outcomes`, then logged and counted."""

    delivery_id: int
    status: DeliveryStatus
    at: datetime
    code: str | None = None
    detail: str | None = None
    #: When a `retrying` delivery is due again.
    due_at: datetime | None = None
    #: Set when the provider accepted the message.
    provider: str | None = None
    provider_message_id: str | None = None
    #: For the log line and the metrics, not stored.
    log_ctx: dict[str, str | int] = field(default_factory=dict)
    lateness_s: float | None = None

    @property
    def extra(self) -> dict[str, str | datetime | None]:
        """The provider's columns, when it accepted the message."""
        if not self.provider:
            return {}
        return {
            "provider": self.provider,
            "provider_message_id": self.provider_message_id,
            "sent_at": self.at,
        }


def record_outcomes(ctx: SendContext, outcomes: Seq[Outcome]) -> set[int]:
    """Several sends' outcomes with their events, committed; the ids whose row changed.

    One statement for them all on PostgreSQL, else `record_outcome` for each.
    """
    engine = engine_of(ctx)
    if engine.dialect.name != "postgresql" or len(outcomes) < 2:
        return {
            o.delivery_id
            for o in outcomes
            if record_outcome(
                ctx,
                o.delivery_id,
                o.status,
                o.at,
                code=o.code,
                detail=o.detail,
                due_at=o.due_at,
                extra=o.extra,
            )
        }
    params = {
        "ids": [o.delivery_id for o in outcomes],
        "statuses": [o.status.value for o in outcomes],
        "ats": [o.at for o in outcomes],
        "codes": [o.code for o in outcomes],
        "details": [o.detail for o in outcomes],
        "due_ats": [o.due_at for o in outcomes],
        "providers": [o.provider for o in outcomes],
        "provider_message_ids": [o.provider_message_id for o in outcomes],
        "sent_ats": [o.at if o.provider else None for o in outcomes],
        "notes": [_note(o.code, o.detail) for o in outcomes],
    }
    return set(_run_outcome(engine, _outcomes_statement(), params, outcomes[0].delivery_id))


def _run_outcome(engine: Engine, statement: Any, params: dict[str, Any], first_id: int) -> Any:
    """Run an outcome statement; its rows. A dropped connection is retried on a fresh one:
    the provider already answered, and losing that answer would turn a known outcome into
    `unknown`. The statements are safe to repeat (they only change rows still
    `sending|unknown`)."""
    for attempt in range(OUTCOME_ATTEMPTS):
        try:
            # A retry takes a fresh connection: the batch's own may be the one that broke.
            with autocommit(engine, fresh=attempt > 0) as conn:
                result = conn.execute(statement, params)
                return result.scalars().all() if result.returns_rows else result.rowcount
        except DBAPIError as exc:
            # Dropped, or refused (restarting, out of connections): worth another try.
            lost = exc.connection_invalidated or isinstance(exc, OperationalError)
            if not lost or attempt == OUTCOME_ATTEMPTS - 1:
                raise
            log.warning("outcome.retry", delivery_id=first_id, attempt=attempt + 1)
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


@lru_cache(maxsize=1)
def _outcomes_statement() -> Any:
    """`_outcome_statement` for several deliveries (PostgreSQL): the values come as arrays,
    one per column, so the statement is built once. Columns a row leaves NULL (the
    provider's, `due_at`) keep what the delivery had."""
    d, ev = _DELIVERIES, _EVENTS
    columns: dict[str, tuple[str, TypeEngine[Any]]] = {
        "id": ("ids", Integer()),
        "status": ("statuses", String()),
        "at": ("ats", DateTime(timezone=True)),
        "code": ("codes", String()),
        "detail": ("details", String()),
        "due_at": ("due_ats", DateTime(timezone=True)),
        "provider": ("providers", String()),
        "provider_message_id": ("provider_message_ids", String()),
        "sent_at": ("sent_ats", DateTime(timezone=True)),
        "note": ("notes", String()),
    }
    v = (
        func.unnest(*(bindparam(name, type_=ARRAY(t)) for name, t in columns.values()))
        .table_valued(*(column(c, t) for c, (_, t) in columns.items()))
        .render_derived(name="v")
    )
    changed = (
        update(d)
        .where(d.c.id == v.c.id, d.c.status.in_(FINISHABLE))
        .values(
            status=v.c.status,
            updated_at=v.c.at,
            lease_expires_at=None,
            error_code=v.c.code,
            error_detail=v.c.detail,
            due_at=func.coalesce(v.c.due_at, d.c.due_at),
            provider=func.coalesce(v.c.provider, d.c.provider),
            provider_message_id=func.coalesce(v.c.provider_message_id, d.c.provider_message_id),
            sent_at=func.coalesce(v.c.sent_at, d.c.sent_at),
        )
        .returning(d.c.id, v.c.status, v.c.at, v.c.note)
        .cte("changed")
    )
    return (
        insert(ev)
        .from_select(
            ["delivery_id", "at", "status", "source", "detail"],
            select(
                changed.c.id,
                changed.c.at,
                changed.c.status,
                literal("worker", ev.c.source.type),
                changed.c.note,
            ),
        )
        .returning(ev.c.delivery_id)
        .add_cte(changed)
    )


def engine_of(ctx: SendContext) -> Engine:
    bind = ctx.sessions.kw["bind"]
    assert isinstance(bind, Engine)
    return bind


class HeldConnection:
    """The autocommit connection a batch holds (PostgreSQL); a new one once the database
    has dropped it, so that one cut does not fail the rest of the batch."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn = self._open()

    def _open(self) -> Connection:
        return self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def get(self) -> Connection:
        if self.conn.invalidated:
            self.conn.close()
            self.conn = self._open()
        return self.conn

    def close(self) -> None:
        self.conn.close()


#: The connection a batch of sends holds, see `batch_connection`.
_held: ContextVar[HeldConnection | None] = ContextVar("nurture_batch_connection", default=None)


@contextmanager
def batch_connection(ctx: SendContext) -> Iterator[None]:
    """Hold one autocommit connection for a batch's claims and outcomes (PostgreSQL).

    Each statement still commits on its own; the batch only saves checking a connection out
    (and pinging it) twice per message. It is held during the provider calls too, so when
    the pool's steady connections are all out (many threads, slow provider), the batch takes
    one per statement instead of waiting for one.
    """
    engine = engine_of(ctx)
    pool: Any = engine.pool
    busy = hasattr(pool, "checkedout") and pool.checkedout() >= pool.size()
    if engine.dialect.name != "postgresql" or _held.get() is not None or busy:
        yield
        return
    held = HeldConnection(engine)
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.close()


@contextmanager
def autocommit(engine: Engine, *, fresh: bool = False) -> Iterator[Connection]:
    """A connection whose statements commit one by one (PostgreSQL), else a transaction.

    Inside `batch_connection` that is the batch's connection, unless `fresh`."""
    held = None if fresh else _held.get()
    if held is not None:
        yield held.get()
    elif engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn
