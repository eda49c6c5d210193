"""Everyone who asked for a consultation, each with where they stand in one word: the
`/ops/prospects` list (filters, search, pages, CSV) and the counts `/today` and the staff
navigation show. A prospect's state is one SQL expression, so a filter, a count and a row
always agree."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session

from nurture.core.states import LIVE_ENROLLMENTS, EnrollmentStatus
from nurture.db.tables import Contact, Enrollment, InboundMessage
from nurture.ops.export import spreadsheet_cell

#: The states a prospect can be in, in the order the filters offer them, with their words.
STATES: dict[str, str] = {
    "new": "New request",
    "active": "Getting messages",
    "waiting": "Wrote back: waiting for you",
    "booked": "Booked",
    "stopped": "Stopped",
    "nothing-sent": "Got nothing: call them",
    "finished": "Sequence finished",
}
#: A request is new for this long (until the person's last visit is known).
NEW_FOR = timedelta(hours=24)
PAGE_SIZE = 50


def reply_waiting() -> ColumnElement[bool]:
    """The prospect wrote back and nobody has marked it handled yet."""
    return exists().where(
        InboundMessage.contact_id == Contact.id,
        InboundMessage.kind == "reply",
        InboundMessage.handled_at.is_(None),
    )


def _runs(*states: EnrollmentStatus) -> ColumnElement[bool]:
    return exists().where(Enrollment.contact_id == Contact.id, Enrollment.status.in_(states))


def unreachable() -> ColumnElement[bool]:
    """No channel the prospect may be sent anything on: no address, or no consent, on each."""
    email = and_(Contact.email.is_not(None), Contact.consent_email.is_(True))
    sms = and_(Contact.phone.is_not(None), Contact.consent_sms.is_(True))
    return not_(or_(email, sms))


def state_of(now: datetime) -> ColumnElement[str]:
    """The prospect's state, first match wins: booked, waiting (a reply or a paused run),
    nothing-sent, stopped, new (asked within `NEW_FOR`), active, finished."""
    return case(
        (Contact.booked_at.is_not(None), "booked"),
        (or_(reply_waiting(), _runs(EnrollmentStatus.PAUSED)), "waiting"),
        (unreachable(), "nothing-sent"),
        (and_(not_(_runs(*LIVE_ENROLLMENTS)), _runs(EnrollmentStatus.STOPPED)), "stopped"),
        (and_(_runs(*LIVE_ENROLLMENTS), Contact.created_at >= now - NEW_FOR), "new"),
        (_runs(*LIVE_ENROLLMENTS), "active"),
        else_="finished",
    )


def matching(text: str) -> ColumnElement[bool] | None:
    """Prospects whose name or email contains `text`, or whose phone has its digits."""
    text = text.strip().lower()
    if not text:
        return None
    conditions: list[ColumnElement[bool]] = [
        func.lower(Contact.first_name).contains(text, autoescape=True),
        func.lower(Contact.last_name).contains(text, autoescape=True),
        func.lower(Contact.email).contains(text, autoescape=True),
    ]
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        conditions.append(Contact.phone.contains(digits, autoescape=True))
    return or_(*conditions)


@dataclass(frozen=True)
class ProspectRow:
    contact: Contact
    state: str
    #: Why a stopped prospect was stopped (the latest stop), else None.
    stop_reason: str | None

    @property
    def words(self) -> str:
        """The state as staff say it."""
        said = STATES[self.state]
        if self.state == "stopped" and self.stop_reason:
            said += f": {reason_words(self.stop_reason)}"
        return said


@dataclass(frozen=True)
class ProspectPage:
    rows: list[ProspectRow]
    total: int
    page: int
    pages: int


def reason_words(reason: str) -> str:
    """A stop reason as staff say it."""
    words = {
        "booked": "booked",
        "unsubscribed": "unsubscribed",
        "replied": "wrote back",
        "opted_out": "opted out",
    }
    return words.get(reason, reason.replace("_", " "))


def list_prospects(
    session: Session,
    *,
    now: datetime,
    state: str | None = None,
    q: str = "",
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> ProspectPage:
    """One page of prospects (newest first) in `state`, matching `q`."""
    state_column = state_of(now).label("state")
    latest_stop = (
        select(Enrollment.stop_reason)
        .where(Enrollment.contact_id == Contact.id, Enrollment.status == EnrollmentStatus.STOPPED)
        .order_by(Enrollment.ended_at.desc(), Enrollment.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    filters: list[ColumnElement[bool]] = [Contact.erased_at.is_(None)]
    if state:
        filters.append(state_of(now) == state)
    found = matching(q)
    if found is not None:
        filters.append(found)
    total = session.scalar(select(func.count()).select_from(Contact).where(*filters)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    query = (
        select(Contact, state_column, latest_stop)
        .where(*filters)
        .order_by(Contact.created_at.desc(), Contact.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    rows = [ProspectRow(c, s, r) for c, s, r in session.execute(query)]
    return ProspectPage(rows, total, page, pages)


def count_states(session: Session, *, now: datetime) -> dict[str, int]:
    """How many prospects are in each state (every state present)."""
    state_column = state_of(now).label("state")
    query = (
        select(state_column, func.count()).where(Contact.erased_at.is_(None)).group_by(state_column)
    )
    counted = {str(state): int(n) for state, n in session.execute(query)}
    return {name: counted.get(name, 0) for name in STATES}


def prospect_state(session: Session, contact_id: int, *, now: datetime) -> str:
    """One prospect's state."""
    return session.scalar(select(state_of(now)).where(Contact.id == contact_id)) or "finished"


def csv_row(row: ProspectRow, shown: Any) -> list[str]:
    """A prospect as one CSV line (formulas defused); `shown` gives an instant in clinic time."""
    c = row.contact
    cells = [
        str(c.id),
        c.first_name,
        c.last_name or "",
        c.email or "",
        c.phone or "",
        row.words,
        shown(c.created_at),
        shown(c.booked_at) if c.booked_at else "",
    ]
    return [spreadsheet_cell(cell) for cell in cells]


CSV_HEADER = ["id", "first name", "last name", "email", "phone", "state", "first seen", "booked"]
