"""How a send ends: the provider's answer (or failure) as an outcome, recorded as the
delivery's move, then logged and counted.

- accepted → `sent`, with the provider's id;
- not processed (connection refused, 429, 503) → `retrying` after a backoff, or `failed`
  once the attempts are spent;
- refused for good → `failed`, and the address suppressed where the error says so;
- may have reached the provider (a timeout after sending, 500/502/504, a crash) →
  `unknown`: never sent again by itself.

An outcome may overwrite `unknown` as well as `sending`: if the lease ran out mid-send, the
real answer still wins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Table, update

from nurture.channels.base import BaseChannel, SendResult
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel, DeliveryStatus
from nurture.db.connections import write_retrying
from nurture.db.tables import Delivery
from nurture.db.transitions import Move, move_each
from nurture.errors import AmbiguousSendError, PermanentSendError, TransientSendError
from nurture.send.backoff import compute_backoff
from nurture.send.metrics import record_send
from nurture.steering.consent import refuse_address

if TYPE_CHECKING:
    from nurture.send.context import SendContext

log = structlog.get_logger(__name__)
_D: Table = Delivery.__table__  # type: ignore[assignment]
#: States an outcome may overwrite: `unknown` too, as the real outcome beats a guess.
FINISHABLE = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)


@dataclass(frozen=True)
class Ready:
    """A delivery claimed, checked and rendered, its rate slot taken: ready for its provider."""

    delivery: Delivery
    message: OutgoingMessage
    channel: BaseChannel
    now: datetime
    log_ctx: dict[str, str | int]


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

    def as_move(self) -> Move:
        """The delivery's move this outcome records."""
        note = self.code if self.detail is None else f"{self.code}: {self.detail}"
        return Move(
            self.delivery_id,
            self.status,
            self.at,
            detail=note,
            error_code=self.code,
            error_detail=self.detail,
            due_at=self.due_at,
            provider=self.provider,
            provider_message_id=self.provider_message_id,
            sent_at=self.at if self.provider else None,
        )


def hand_over(ctx: SendContext, r: Ready, call: Callable[[], SendResult]) -> Outcome:
    """Make (or collect) the provider call; its outcome, to be recorded."""
    delivery, now, log_ctx = r.delivery, r.now, r.log_ctx
    bind_delivery(delivery)
    try:
        result = call()
    except TransientSendError as exc:
        if delivery.attempts >= ctx.settings.send_max_attempts:
            return Outcome(
                delivery.id,
                DeliveryStatus.FAILED,
                now,
                code=exc.code,
                detail=f"retries spent: {exc}",
                log_ctx=log_ctx,
            )
        wait_s = compute_backoff(
            delivery.attempts,
            base_s=ctx.settings.retry_base_s,
            max_s=ctx.settings.retry_max_s,
            retry_after_s=exc.retry_after_s,
        )
        return Outcome(
            delivery.id,
            DeliveryStatus.RETRYING,
            now,
            code=exc.code,
            detail=str(exc),
            due_at=now + timedelta(seconds=wait_s),
            log_ctx=log_ctx,
        )
    except PermanentSendError as exc:
        if exc.suppress:
            with ctx.sessions.begin() as session:
                refuse_address(session, delivery, r.message.to, exc, now=now)
        return Outcome(
            delivery.id,
            DeliveryStatus.FAILED,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except AmbiguousSendError as exc:
        return Outcome(
            delivery.id,
            DeliveryStatus.UNKNOWN,
            now,
            code=exc.code,
            detail=str(exc),
            log_ctx=log_ctx,
        )
    except Exception as exc:
        # We cannot tell whether the provider got it: never guess, let ops decide.
        log.exception("send.crashed", **log_ctx)
        return Outcome(
            delivery.id,
            DeliveryStatus.UNKNOWN,
            now,
            code="crash",
            detail=type(exc).__name__,
            log_ctx=log_ctx,
        )
    return Outcome(
        delivery.id,
        DeliveryStatus.SENT,
        now,
        provider=result.provider,
        provider_message_id=result.message_id,
        log_ctx=log_ctx,
        lateness_s=(now - delivery.due_at).total_seconds(),
    )


def record_outcomes(ctx: SendContext, outcomes: list[Outcome]) -> set[int]:
    """Several sends' outcomes with their events, committed; the ids whose row changed.

    One statement for them all on PostgreSQL. A dropped connection is retried on a fresh
    one: the provider already answered, and losing that answer would turn a known outcome
    into `unknown`.
    """
    if not outcomes:
        return set()
    moves = [o.as_move() for o in outcomes]
    return write_retrying(
        ctx.engine,
        lambda conn: move_each(conn, moves, leaving=FINISHABLE, source="worker"),
        what="outcome",
    )


def bind_delivery(delivery: Delivery) -> None:
    """Every log line from here on names this delivery (and its enrollment)."""
    structlog.contextvars.bind_contextvars(
        delivery_id=delivery.id, enrollment_id=delivery.enrollment_id
    )


def finish(ctx: SendContext, outcomes: list[Outcome]) -> list[DeliveryStatus]:
    """Record outcomes (together), then log and count each; their statuses."""
    changed = record_outcomes(ctx, outcomes)
    for o in outcomes:
        structlog.contextvars.bind_contextvars(delivery_id=o.delivery_id)
        if o.delivery_id not in changed and o.provider:
            # A delivery report got here first and moved the status on: keep the provider id.
            with ctx.sessions.begin() as session:
                session.execute(
                    update(_D)
                    .where(_D.c.id == o.delivery_id, _D.c.provider_message_id.is_(None))
                    .values(**o.extra)
                )
        event = "send.sent" if o.status is DeliveryStatus.SENT else "send.finished"
        log.info(event, status=o.status.value, code=o.code, **o.log_ctx)
        channel = Channel(str(o.log_ctx["channel"]))
        record_send(
            channel=channel.value,
            step=str(o.log_ctx["step"]),
            status=o.status,
            provider=o.provider or ctx.channels[channel].provider,
            code=o.code,
            lateness_s=o.lateness_s,
        )
    return [o.status for o in outcomes]
