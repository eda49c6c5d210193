"""A message ready for its channel: what composing produces and a channel hands over."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from nurture.core.states import Channel


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
