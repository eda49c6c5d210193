"""SMS through Twilio's official SDK (`Client().messages.create`).

Each message carries a `StatusCallback` (delivery reports reach /webhooks/twilio/status) and a
`ValidityPeriod` no longer than the time left before the recipient's quiet hours, so a
message held in Twilio's queue cannot land at night. The SDK's region/edge settings keep the
twilio.com suffix; `NURTURE_TWILIO_API_BASE` is honoured by rewriting URLs in our own
http client, which also turns each transport failure into a typed SendError.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from nurture.channels.base import Answer, BaseChannel, Lookup, LookupQuery, SendResult
from nurture.channels.errors import error_for_status
from nurture.channels.twilio_http import TWILIO_API, PooledTwilioHttpClient
from nurture.content.message import OutgoingMessage, body_sha256
from nurture.core.clock import utcnow
from nurture.core.states import Channel
from nurture.errors import PermanentSendError, SendError

#: Twilio accepts ValidityPeriod in whole seconds from 1 to 36,000 (10 hours).
MIN_VALIDITY_S = 1
MAX_VALIDITY_S = 36_000
#: The recipient opted out of this sender: suppress SMS and record the opt-out.
OPTED_OUT_CODES = frozenset({"21610"})
#: Invalid number, not SMS-capable, landline: the number is marked unusable.
UNUSABLE_NUMBER_CODES = frozenset({"21211", "21614", "21635"})

#: Messages a lookup lists at most; a full list without a match cannot tell.
LOOKUP_LIMIT = 200


def validity_period_s(now: datetime | None, not_after: datetime | None) -> int | None:
    """Seconds the message may wait at Twilio: until `not_after`, within Twilio's 1..36000."""
    if now is None or not_after is None:
        return None
    left = int((not_after - now).total_seconds())
    return max(MIN_VALIDITY_S, min(MAX_VALIDITY_S, left))


class TwilioChannel(BaseChannel):
    """Sends SMS with Twilio from a number or a Messaging Service; the SID is the provider id."""

    provider = "twilio"
    channel = Channel.SMS

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        api_base: str = TWILIO_API,
        status_callback: str | None = None,
        timeout_s: float,
    ) -> None:
        self.http = PooledTwilioHttpClient(api_base, timeout_s=timeout_s)
        self.client = Client(account_sid, auth_token, http_client=self.http)
        # The SDK imports its resources on first use; do it now, not inside a rate slot.
        self.messages = self.client.messages
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback

    def _send(self, message: OutgoingMessage) -> SendResult:
        params: dict[str, Any] = {"to": message.to, "body": message.text}
        if self.messaging_service_sid:
            params["messaging_service_sid"] = self.messaging_service_sid
        else:
            params["from_"] = self.from_number
        if self.status_callback:
            # The delivery id lets a report settle even a delivery whose answer was lost.
            params["status_callback"] = (
                f"{self.status_callback}?{urlencode({'d': message.delivery_id})}"
            )
        validity = validity_period_s(message.now, message.not_after)
        if validity is not None:
            params["validity_period"] = validity
        try:
            created = self.messages.create(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise _refusal(exc) from None
        return SendResult(provider=self.provider, message_id=str(created.sid))

    def lookup(self, query: LookupQuery) -> Lookup:
        """Twilio's message list to the number from our sender around the attempt's day,
        matched on the body's hash (each body hashed in memory, never kept)."""
        day = datetime.combine(query.attempted_at.date(), time(), tzinfo=query.attempted_at.tzinfo)
        params: dict[str, Any] = {
            "to": query.to,
            # Twilio filters sent dates by the day: the day before to the day after.
            "date_sent_after": day - timedelta(days=1),
            "date_sent_before": day + timedelta(days=2),
            "limit": LOOKUP_LIMIT,
        }
        if not self.messaging_service_sid:
            params["from_"] = self.from_number
        try:
            listed = self.messages.list(**params)
        except (TwilioRestException, TwilioServiceException) as exc:
            return Lookup(Answer.CANNOT_TELL, f"twilio message list {exc.status}")
        except SendError as exc:
            return Lookup(Answer.CANNOT_TELL, f"twilio message list: {exc.code}")
        except Exception as exc:  # a broken answer: never guess
            return Lookup(Answer.CANNOT_TELL, f"twilio message list: {type(exc).__name__}")
        for m in listed:
            if (
                query.body_sha256
                and body_sha256(Channel.SMS, str(m.to or query.to), str(m.body or ""))
                == query.body_sha256
            ):
                return Lookup(
                    Answer.FOUND,
                    f"twilio message list: {len(listed)} listed, {m.sid} matches the body hash",
                    message_id=str(m.sid),
                )
        seen = f"twilio message list: {len(listed)} listed"
        if not listed:
            return Lookup(Answer.ABSENT, f"{seen} to this number")
        if len(listed) >= LOOKUP_LIMIT:
            return Lookup(Answer.CANNOT_TELL, f"{seen} (the limit), none matches")
        if not query.body_sha256:
            return Lookup(Answer.CANNOT_TELL, f"{seen}, no body hash recorded to match")
        return Lookup(Answer.ABSENT, f"{seen}, none matches the body hash")

    def close(self) -> None:
        self.http.close()


def _refusal(exc: TwilioRestException | TwilioServiceException) -> Exception:
    """A 4xx from Twilio: permanent, suppressing where the code says the number is dead."""
    code = str(exc.code) if exc.code is not None else None
    status = int(exc.status)
    reason = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
    if code in OPTED_OUT_CODES:
        return PermanentSendError(
            f"twilio {code}: the recipient unsubscribed from this sender",
            provider="twilio",
            code=code,
            opt_out=True,
        )
    if code in UNUSABLE_NUMBER_CODES:
        return PermanentSendError(
            f"twilio {code}: the number cannot receive SMS ({reason})"[:300],
            provider="twilio",
            code=code,
            suppress=True,
        )
    return error_for_status("twilio", status, message=str(reason), code=code, now=utcnow())
