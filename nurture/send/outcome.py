"""How a send ends: the provider's answer (or failure) as an outcome; `record` is the one
place every outcome of the send path is written (one statement per batch), logged and counted.

- accepted → `sent`, with the provider's id;
- not processed (connection refused, 429, 503) → `retrying` after a backoff, or `failed`
  once the attempts are spent;
- refused for good → `failed`, and the address suppressed where the error says so;
- may have reached the provider (a timeout after sending, 500/502/504, a crash) →
  `unknown`: never sent again by itself.

An outcome may overwrite `unknown` as well as `sending`: if the lease ran out mid-send, the
real answer still wins. A delivery that never reached its call (skipped, held, a template
that fails) leaves `queued`, so it never overwrites another run's take.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Table, update

from nurture.channels.base import BaseChannel
from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel, DeliveryStatus
from nurture.db.connections import write_retrying
from nurture.db.outcomes import Move, move_each
from nurture.db.tables import Delivery
from nurture.errors import AmbiguousSendError, PermanentSendError, TransientSendError
from nurture.send.backoff import compute_backoff
from nurture.send.metrics import record_send
from nurture.steering.consent import refuse_address

if TYPE_CHECKING:
    from nurture.send.context import SendContext
    from nurture.send.taken import Taken

log = structlog.get_logger(__name__)
_D: Table = Delivery.__table__  # type: ignore[assignment]
#: States a call's outcome may overwrite: `unknown` too, as the real outcome beats a guess.
FINISHABLE = (DeliveryStatus.SENDING, DeliveryStatus.UNKNOWN)
#: The state an outcome decided before any take leaves (skipped, held, failed to render).
UNTAKEN = (DeliveryStatus.QUEUED,)


@dataclass(frozen=True)
class Ready:
    """A delivery decided go and rendered: its message, channel and log context."""

    row: Taken
    message: OutgoingMessage
    channel: BaseChannel
    now: datetime
    log_ctx: dict[str, str | int]

    @property
    def delivery(self) -> Delivery:
        return self.row.delivery


@dataclass(frozen=True)
class Outcome:
    """How one send ended (or why it did not go): written, logged and counted by `record`."""

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
    #: The states this outcome may move the delivery from.
    leaving: tuple[DeliveryStatus, ...] = FINISHABLE

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


def hand_over(ctx: SendContext, r: Ready) -> Outcome:
    """Make the provider call of a taken delivery; its outcome, to be recorded."""
    delivery, now, log_ctx = r.delivery, r.now, r.log_ctx
    bind_delivery(delivery)
    try:
        result = r.channel.send(r.message)
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


def record(ctx: SendContext, outcomes: list[Outcome]) -> set[int]:
    """Write outcomes with their events (`record_outcomes`), then log and count each; the
    ids whose row moved. Every outcome of the send path comes through here."""
    changed = record_outcomes(ctx, outcomes)
    for o in outcomes:
        structlog.contextvars.bind_contextvars(delivery_id=o.delivery_id)
        if o.delivery_id not in changed:
            if o.provider:  # a delivery report moved the status on first: keep the provider id
                _keep_provider_id(ctx, o)
            elif o.leaving == UNTAKEN:
                continue  # another run took it meanwhile: nothing happened here
        log.info(
            _EVENTS.get(o.status, "send.finished"), status=o.status.value, code=o.code, **o.log_ctx
        )
        if o.status is not DeliveryStatus.SCHEDULED:
            channel = Channel(str(o.log_ctx["channel"]))
            record_send(
                channel=channel.value,
                step=str(o.log_ctx["step"]),
                status=o.status,
                provider=o.provider or ctx.channels[channel].provider,
                code=o.code,
                lateness_s=o.lateness_s,
            )
    return changed


def record_outcomes(ctx: SendContext, outcomes: list[Outcome]) -> set[int]:
    """Outcomes with their events, committed: one statement for those leaving the same
    states (on PostgreSQL); the ids whose row moved.

    A dropped connection is retried on a fresh one: the provider already answered, and
    losing that answer would turn a known outcome into `unknown`.
    """
    changed: set[int] = set()
    for leaving in {o.leaving for o in outcomes}:
        moves = [o.as_move() for o in outcomes if o.leaving == leaving]
        changed |= write_retrying(
            ctx.engine,
            lambda conn, moves=moves, leaving=leaving: move_each(  # type: ignore[misc]
                conn, moves, leaving=leaving, source="worker"
            ),
            what="outcome",
        )
    return changed


_EVENTS = {
    DeliveryStatus.SENT: "send.sent",
    DeliveryStatus.SKIPPED: "send.skipped",
    DeliveryStatus.SCHEDULED: "send.held",
}


def _keep_provider_id(ctx: SendContext, o: Outcome) -> None:
    with ctx.sessions.begin() as session:
        session.execute(
            update(_D)
            .where(_D.c.id == o.delivery_id, _D.c.provider_message_id.is_(None))
            .values(**o.extra)
        )


def bind_delivery(delivery: Delivery) -> None:
    """Every log line from here on names this delivery (and its enrollment)."""
    structlog.contextvars.bind_contextvars(
        delivery_id=delivery.id, enrollment_id=delivery.enrollment_id
    )
