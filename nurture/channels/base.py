"""The channel seam: one message in, the provider's id out, or a typed SendError.

Shared behaviour (checks, logging, error typing) lives here; each implementation makes the
one provider call in `_send`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

import structlog

from nurture.content.message import OutgoingMessage
from nurture.core.states import Channel
from nurture.errors import PermanentSendError, SendError

log = structlog.get_logger(__name__)

MAX_SMS_CHARS = 1600  # Twilio's limit for one message body
MAX_EMAIL_BYTES = 1_000_000
#: How much the newest call counts in a channel's moving average of call times.
LATENCY_WEIGHT = 0.2
#: How many of a channel's latest call times its quickest (`quickest_s`) is taken from.
RECENT_CALLS = 16


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message under this id."""

    provider: str
    message_id: str


class Answer(StrEnum):
    """What a provider says about a message nurture may or may not have handed it."""

    #: It has the message: it was sent.
    FOUND = "found"
    #: It says clearly that it has no such message.
    ABSENT = "absent"
    #: It cannot say (no such API on the account, an error, a timeout, too many to search).
    CANNOT_TELL = "cannot_tell"


@dataclass(frozen=True)
class LookupQuery:
    """What reconciliation knows of an attempt it asks a provider about (no body)."""

    delivery_id: int
    to: str
    #: sha256 of channel, address and body, recorded when the attempt took the delivery.
    body_sha256: str | None
    #: When the attempt started; the provider's copy, if any, is from about then.
    attempted_at: datetime


@dataclass(frozen=True)
class Lookup:
    """A provider's answer, with its evidence for the delivery's history (never a body)."""

    answer: Answer
    evidence: str
    #: The provider's id of the message, when found.
    message_id: str | None = None


class BaseChannel(ABC):
    """A way to hand messages to a provider. Subclasses set `provider` and `channel`."""

    provider: str
    channel: Channel
    #: Calls wait on the network: a batch makes several of them at once.
    remote: ClassVar[bool] = True
    _latency_s: float | None = None
    #: The latest `RECENT_CALLS` call times (a ring, fixed in size: read by any thread).
    _recent: list[float] | None = None
    _next = 0

    @property
    def latency_s(self) -> float | None:
        """How long this channel's calls took lately, in seconds (a moving average of every
        call, answered or failed); None before the first."""
        return self._latency_s

    @latency_s.setter
    def latency_s(self, seconds: float | None) -> None:
        # Told outright (a test, a fresh start): the calls timed before say nothing more.
        self._latency_s, self._recent, self._next = seconds, None, 0

    @property
    def quickest_s(self) -> float | None:
        """The quickest of the latest calls: the provider's own time, which a busy host
        stretches only in some calls (those that wait for a core or the interpreter), never in
        all of them; the moving average before any call is timed."""
        recent = self._recent
        return self._latency_s if not recent else min(recent)

    def send(self, message: OutgoingMessage) -> SendResult:
        """Check, send and log one message (no body or address in the log). Its headers
        go out on one line each, whatever text they were built from."""
        message = message.with_safe_headers()
        self._check(message)
        started = time.perf_counter()
        try:
            result = self._send(message)
        except SendError as exc:
            log.warning(
                "send.error",
                provider=self.provider,
                delivery_id=message.delivery_id,
                error=type(exc).__name__,
                code=exc.code,
                retry_after_s=exc.retry_after_s,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            raise
        finally:
            self._took(time.perf_counter() - started)
        log.info(
            "send.accepted",
            provider=self.provider,
            delivery_id=message.delivery_id,
            provider_message_id=result.message_id,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return result

    def _took(self, seconds: float) -> None:
        last = self._latency_s
        self._latency_s = seconds if last is None else last + LATENCY_WEIGHT * (seconds - last)
        recent = self._recent
        if recent is None or len(recent) < RECENT_CALLS:
            self._recent = [*(recent or ()), seconds]
        else:  # a slot replaced in place: a reader sees the old time or the new one
            recent[self._next % RECENT_CALLS] = seconds
            self._next += 1

    def _check(self, message: OutgoingMessage) -> None:
        if message.channel is not self.channel:
            raise PermanentSendError(
                f"{self.provider} cannot send {message.channel.value}",
                provider=self.provider,
                code="wrong_channel",
            )
        if not message.to:
            raise PermanentSendError(
                "no recipient address", provider=self.provider, code="no_address"
            )
        if self.channel is Channel.SMS and len(message.text) > MAX_SMS_CHARS:
            raise PermanentSendError(
                f"SMS body has {len(message.text)} characters; the limit is {MAX_SMS_CHARS}",
                provider=self.provider,
                code="body_too_long",
            )
        if self.channel is Channel.EMAIL:
            if not message.subject:
                raise PermanentSendError(
                    "email without a subject", provider=self.provider, code="no_subject"
                )
            size = len(message.text.encode()) + len((message.html or "").encode())
            if size > MAX_EMAIL_BYTES:
                raise PermanentSendError(
                    f"email body is {size} bytes; limit {MAX_EMAIL_BYTES}",
                    provider=self.provider,
                    code="body_too_long",
                )

    @abstractmethod
    def _send(self, message: OutgoingMessage) -> SendResult:
        """Make the one provider call; raise Transient/Permanent/AmbiguousSendError."""

    def lookup(self, query: LookupQuery) -> Lookup:
        """Ask the provider whether it has the message of `query`'s attempt.

        Channels that can answer override this; the default cannot tell.
        """
        return Lookup(Answer.CANNOT_TELL, f"{self.provider} cannot be asked")

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release connections held by the channel."""
