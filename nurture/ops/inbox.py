"""The replies inbox: what prospects wrote (texts and emails), with what the clinic needs
to answer them. One query for the `/ops/replies` page and the `nurture replies` command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from nurture.db.tables import Contact, Delivery, Enrollment, InboundMessage, StaffMessage
from nurture.ops.who import answerers

#: Kinds the inbox lists: a person's reply, and automatic answers (already handled).
INBOX_KINDS = ("reply", "auto")


@dataclass(frozen=True)
class InboxRow:
    """One reply, with its prospect (None when we could not tell who wrote), their latest
    sequence run, the last step sent to them, and the answers sent to it."""

    reply: InboundMessage
    contact: Contact | None
    enrollment: Enrollment | None
    last_sent: Delivery | None
    answers: list[StaffMessage]
    #: Who queued each answer, in the answers' order (from the audit trail; may be shorter).
    answered_by: tuple[str, ...] = ()

    def answerer(self, index: int) -> str:
        """Who wrote answer number `index`: a name, or "You" when the trail does not say."""
        return self.answered_by[index] if index < len(self.answered_by) else "You"

    @property
    def waiting(self) -> bool:
        """A person's reply nobody has marked handled yet."""
        return self.reply.kind == "reply" and self.reply.handled_at is None


def inbox(session: Session, *, include_handled: bool = True, limit: int = 200) -> list[InboxRow]:
    """Replies, unhandled first, then newest first; automatic answers count as handled."""
    waiting = case(
        ((InboundMessage.kind == "reply") & InboundMessage.handled_at.is_(None), 0), else_=1
    )
    query = select(InboundMessage).where(InboundMessage.kind.in_(INBOX_KINDS))
    if not include_handled:
        query = query.where(InboundMessage.kind == "reply", InboundMessage.handled_at.is_(None))
    replies = list(
        session.scalars(
            query.order_by(
                waiting, InboundMessage.received_at.desc(), InboundMessage.id.desc()
            ).limit(limit)
        )
    )
    contact_ids = {r.contact_id for r in replies if r.contact_id is not None}
    contacts = (
        {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(contact_ids)))}
        if contact_ids
        else {}
    )
    latest: dict[int, Enrollment] = {}
    last_sent: dict[int, Delivery] = {}
    if contact_ids:
        for e in session.scalars(
            select(Enrollment)
            .where(Enrollment.contact_id.in_(contact_ids))
            .order_by(Enrollment.started_at, Enrollment.id)
        ):
            latest[e.contact_id] = e  # the last one read is the newest
        for d in session.scalars(
            select(Delivery)
            .where(Delivery.contact_id.in_(contact_ids), Delivery.sent_at.is_not(None))
            .order_by(Delivery.sent_at, Delivery.id)
        ):
            last_sent[d.contact_id] = d
    answers: dict[int, list[StaffMessage]] = {}
    if replies:
        for m in session.scalars(
            select(StaffMessage)
            .where(
                StaffMessage.kind == "answer",
                StaffMessage.reply_id.in_([r.id for r in replies]),
            )
            .order_by(StaffMessage.created_at, StaffMessage.id)
        ):
            answers.setdefault(m.reply_id or 0, []).append(m)
    names = answerers(session, set(answers))
    return [
        InboxRow(
            reply=r,
            contact=contacts.get(r.contact_id) if r.contact_id else None,
            enrollment=latest.get(r.contact_id) if r.contact_id else None,
            last_sent=last_sent.get(r.contact_id) if r.contact_id else None,
            answers=answers.get(r.id, []),
            answered_by=tuple(names.get(r.id, [])),
        )
        for r in replies
    ]


@dataclass(frozen=True)
class ConversationEntry:
    """One message of a prospect's conversation with the clinic, for their history."""

    at: datetime
    #: "they wrote", or who answered: "Maria Lopez answered" (from the audit trail), "you answered"
    who: str
    channel: str
    text: str
    status: str
    inbound_id: int | None = None
    answer_id: int | None = None
    #: When an answer was sent (or is due), for the page to show in clinic time.
    status_at: datetime | None = None


def conversation(session: Session, contact_id: int) -> list[ConversationEntry]:
    """What one prospect wrote and the answers the clinic sent them, in time order."""
    entries = [
        ConversationEntry(
            m.received_at,
            "they wrote",
            m.channel.value,
            m.body,
            m.kind + (" · handled" if m.handled_at else ""),
            inbound_id=m.id,
        )
        for m in session.scalars(
            select(InboundMessage).where(InboundMessage.contact_id == contact_id)
        )
    ]
    answers = list(
        session.scalars(
            select(StaffMessage)
            .where(StaffMessage.contact_id == contact_id, StaffMessage.kind == "answer")
            .order_by(StaffMessage.id)
        )
    )
    names = answerers(session, {a.reply_id for a in answers if a.reply_id is not None})
    for a in answers:
        queue = names.get(a.reply_id or 0, [])
        who = f"{queue.pop(0)} answered" if queue else "you answered"
        status_at = (a.sent_at or a.due_at) if a.status in ("sent", "pending") else None
        status = a.status + (f" ({a.error_code})" if a.error_code else "")
        entries.append(
            ConversationEntry(
                a.created_at,
                who,
                a.channel.value,
                a.body,
                status,
                answer_id=a.id,
                status_at=status_at,
            )
        )
    return sorted(entries, key=lambda e: (e.at, e.answer_id or 0))
