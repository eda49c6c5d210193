"""A message ready for its channel: what composing produces and a channel hands over."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.utils import getaddresses
from functools import lru_cache

from nurture.core.states import Channel
from nurture.core.text import header_text


@dataclass(frozen=True)
class OutgoingMessage:
    """Everything a provider needs; `metadata` carries opaque ids only, never health details."""

    delivery_id: int
    channel: Channel
    to: str
    text: str
    subject: str | None = None
    html: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    unsubscribe_url: str | None = None
    unsubscribe_mailto: str | None = None
    #: Latest instant the message may reach the handset (SMS quiet hours), for ValidityPeriod.
    not_after: datetime | None = None
    #: Time the send started, so `not_after` can be turned into a duration without a clock read.
    now: datetime | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def with_safe_headers(self) -> OutgoingMessage:
        """This message with every header value on one line (`core/text.py: header_text`):
        a subject or a name holding CR LF (a prospect's, in a forwarded reply) can neither
        add a header nor break the send; a Reply-To that is not one address is left out.
        The message itself when every header is one line already (the common case: no copy)."""
        subject = None if self.subject is None else header_text(self.subject)
        from_name = None if self.from_name is None else header_text(self.from_name)
        reply_to = None if self.reply_to is None else reply_to_address(self.reply_to)
        if subject == self.subject and from_name == self.from_name and reply_to == self.reply_to:
            return self
        return replace(self, subject=subject, from_name=from_name, reply_to=reply_to)

    @property
    def body_sha256(self) -> str:
        """The hash reconciliation matches a provider's copy on (see `body_sha256`)."""
        return body_sha256(self.channel, self.to, self.text)


def body_sha256(channel: Channel | str, to: str, body: str) -> str:
    """sha256 (hex) over the channel, the address and the text body, as nurture records it
    when it takes a delivery to send, and as reconciliation hashes a provider's copy: the
    body is hashed in memory, never stored or logged."""
    data = f"{Channel(channel).value}\n{to}\n{body}".encode()
    return hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=1024)
def reply_to_address(value: str) -> str | None:
    """`value` as one Reply-To address (`Name <a@b.example>` or `a@b.example`) on one line,
    or None when it is not exactly one address (a line break in it is never one)."""
    one_line = header_text(value)
    if one_line != value.strip():
        return None
    found = getaddresses([one_line])
    if len(found) != 1:
        return None
    address = found[0][1]
    if address.count("@") != 1 or any(c.isspace() or c in '<>,;"' for c in address):
        return None
    return one_line
