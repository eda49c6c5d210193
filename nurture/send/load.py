"""Reading deliveries for the send: a batch's `queued` deliveries with all their checks read,
in one query; and one delivery in any state (reconciliation).

Nothing here takes a delivery: `take.py` does, right before its provider call.
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.orm import Session

from nurture.core.addressing import per_channel
from nurture.core.states import Channel, DeliveryStatus
from nurture.db.connections import autocommit
from nurture.db.tables import ConsultationRequest, Contact, Delivery, Enrollment, Suppression
from nurture.send.taken import Taken, taken

if TYPE_CHECKING:
    from nurture.send.context import SendContext


def load_queued(ctx: SendContext, delivery_ids: Seq[int]) -> dict[int, Taken]:
    """The `queued` deliveries among `delivery_ids`, with what sending and deciding need
    (the enrollment, contact, concern, whether the address is suppressed), in one query.

    A delivery in any other state is left out: another run has it, or it is settled.
    """
    if not delivery_ids:
        return {}
    # On an autocommit connection (the batch's own, when it holds one): one round trip, where
    # a session's transaction would add a BEGIN and a ROLLBACK.
    with autocommit(ctx.engine) as conn, ctx.sessions(bind=conn) as session:
        rows = session.execute(_queued_statement(), {"ids": list(delivery_ids)}).all()
    # Closing the session detaches the rows with their loaded state (it expires nothing).
    return {d.id: taken(ctx, d, e, c, concern, bool(s)) for d, e, c, concern, s in rows}


def load(session: Session, ctx: SendContext, delivery_id: int) -> Taken:
    """One delivery in whatever state, with what its checks read, in the caller's session."""
    delivery = session.get_one(Delivery, delivery_id)
    address = per_channel(delivery.channel, Contact.email, Contact.phone)
    suppressed = (
        select(Suppression.id)
        .where(Suppression.channel == delivery.channel, Suppression.address == address)
        .exists()
    )
    enrollment, contact, concern, is_suppressed = session.execute(
        select(Enrollment, Contact, ConsultationRequest.concern, suppressed)
        .select_from(Enrollment)
        .join(Contact, Contact.id == delivery.contact_id)
        .outerjoin(ConsultationRequest, ConsultationRequest.id == Enrollment.request_id)
        .where(Enrollment.id == delivery.enrollment_id)
    ).one()
    return taken(ctx, delivery, enrollment, contact, concern, bool(is_suppressed))


@lru_cache(maxsize=1)
def _queued_statement() -> Any:
    """`load_queued`'s query, built once (the ids are one expanding parameter)."""
    address = case((Delivery.channel == Channel.EMAIL, Contact.email), else_=Contact.phone)
    suppressed = (
        select(Suppression.id)
        .where(Suppression.channel == Delivery.channel, Suppression.address == address)
        .exists()
    )
    return (
        select(Delivery, Enrollment, Contact, ConsultationRequest.concern, suppressed)
        .join(Enrollment, Enrollment.id == Delivery.enrollment_id)
        .join(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(ConsultationRequest, ConsultationRequest.id == Enrollment.request_id)
        .where(
            Delivery.id.in_(bindparam("ids", expanding=True)),
            Delivery.status == DeliveryStatus.QUEUED,
        )
    )
