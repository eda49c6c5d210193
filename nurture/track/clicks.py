"""Clicks on the links in messages: a booking link clicked goes into its delivery's history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from nurture.content.links import BookingToken
from nurture.db.tables import Delivery
from nurture.db.transitions import note

BOOKING_CLICK = "booking link clicked"
#: The source of a click's note: the only notes with this source are booking-link clicks,
#: which the results report counts through a partial index on it.
CLICK_SOURCE = "link"


def record_booking_click(session: Session, token: BookingToken, *, now: datetime) -> bool:
    """Note the click on the delivery the link came in (if it names one of this contact's);
    whether it was recorded."""
    if token.delivery_id is None:
        return False
    delivery = session.get(Delivery, token.delivery_id)
    if delivery is None or delivery.contact_id != token.contact_id:
        return False
    note(session, delivery.id, at=now, source=CLICK_SOURCE, detail=BOOKING_CLICK)
    return True
