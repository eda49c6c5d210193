"""From what an HTTP provider answered (or failed to) to a typed SendError.

- nothing was processed: connection refused, a connect timeout, 408, 429, 503 → Transient,
  with `retry_after_s` from `Retry-After` or `X-RateLimit-Reset`
- it may have been processed: a read timeout or a dropped connection after the request went
  out, 500, 502, 504 → Ambiguous (the delivery becomes `unknown`: reconciliation asks the
  provider, never re-sent blindly)
- everything else 4xx → Permanent, with the provider's code and message

Pure functions: `now` is passed in, so the mapping is tested without a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from nurture.errors import AmbiguousSendError, PermanentSendError, SendError, TransientSendError

#: Statuses that mean "not processed, come back later".
RETRYABLE_STATUSES = frozenset({408, 425, 429, 503})
#: An epoch below this in X-RateLimit-Reset is a number of seconds, not a date.
_EPOCH_FLOOR = 1_000_000_000
#: Provider messages are kept short in the database (error_detail holds 500 characters).
_MESSAGE_CHARS = 300


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return str(value).strip()
    return None


def retry_after_s(headers: Mapping[str, str] | None, *, now: datetime) -> float | None:
    """Seconds to wait from `Retry-After` (seconds or an HTTP date) or `X-RateLimit-Reset`."""
    value = _header(headers, "Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, (when - now).total_seconds())
    reset = _header(headers, "X-RateLimit-Reset")
    if reset:
        try:
            number = float(reset)
        except ValueError:
            return None
        if number >= _EPOCH_FLOOR:
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    return None


def error_for_status(
    provider: str,
    status: int,
    *,
    message: str,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime,
) -> SendError:
    """The SendError an HTTP error status means; `code` defaults to the status itself."""
    text = f"{provider} answered {status}: {message}"[:_MESSAGE_CHARS]
    code = code or str(status)
    if status in RETRYABLE_STATUSES:
        return TransientSendError(
            text, provider=provider, code=code, retry_after_s=retry_after_s(headers, now=now)
        )
    if status >= 500:
        return AmbiguousSendError(text, provider=provider, code=code)
    return PermanentSendError(text, provider=provider, code=code)


def not_sent(provider: str, reason: str) -> TransientSendError:
    """The request never reached the provider (refused, unresolvable, connect timeout)."""
    return TransientSendError(
        f"{provider} not reached: {reason}"[:_MESSAGE_CHARS], provider=provider, code="connect"
    )


def maybe_sent(provider: str, reason: str) -> AmbiguousSendError:
    """The request went out and no answer came back (read timeout, connection dropped)."""
    return AmbiguousSendError(
        f"{provider} gave no answer after the request was sent: {reason}"[:_MESSAGE_CHARS],
        provider=provider,
        code="no_answer",
    )
