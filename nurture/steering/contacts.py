"""Finding a prospect by the email or phone a person types."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from nurture.core.addressing import normalize_email, normalize_phone
from nurture.db.tables import Contact
from nurture.errors import InvalidAddressError, NotFoundError


def find_contact(
    session: Session, *, email: str | None = None, phone: str | None = None
) -> Contact:
    """The contact with this email or phone; NotFoundError names what was looked for."""
    if email:
        try:
            address = normalize_email(email)
        except InvalidAddressError:
            address = email.strip().lower()
        contact = session.scalar(select(Contact).where(Contact.email == address))
        if contact is None:
            raise NotFoundError(f"no contact with email {email!r}")
        return contact
    if phone:
        try:
            number = normalize_phone(phone)
        except InvalidAddressError as exc:
            raise NotFoundError(str(exc)) from None
        contact = session.scalar(select(Contact).where(Contact.phone == number))
        if contact is None:
            raise NotFoundError(f"no contact with phone {phone!r}")
        return contact
    raise NotFoundError("give an email or a phone number")


def match_contact(session: Session, *, email: str | None, phone: str | None) -> Contact | None:
    """The contact a booking tool names: by email first, else by phone; None if nobody."""
    for kind, value in (("email", email), ("phone", phone)):
        if not value:
            continue
        try:
            return find_contact(session, **{kind: value})
        except NotFoundError:
            continue
    return None
