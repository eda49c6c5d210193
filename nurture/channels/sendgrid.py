"""Email through SendGrid's official SDK (`SendGridAPIClient`, POST /v3/mail/send).

The message carries the clinic as sender, a text and an HTML part (CSS already inlined by the
renderer), one-click `List-Unsubscribe` headers, and `custom_args` with opaque ids only:
SendGrid keeps custom args for long and shows them to its staff, so no health detail goes
there. The SDK talks through urllib; how each urllib failure maps to a SendError is below.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import urllib.error
from typing import Any

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, From, Header, Mail, ReplyTo, To

from nurture.channels.base import BaseChannel, OutgoingMessage, SendResult
from nurture.channels.errors import error_for_status, maybe_sent, not_sent
from nurture.models import Channel, utcnow

# The SDK logs whole payloads at DEBUG: keep bodies and addresses out even when ops debug.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

_OPAQUE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def opaque_args(metadata: dict[str, str]) -> dict[str, str]:
    """The `*_id` entries of a message's metadata whose values are bare ids."""
    return {
        key: value
        for key, value in metadata.items()
        if key.endswith("_id") and _OPAQUE.match(key) and _OPAQUE.match(value)
    }


def build_mail(message: OutgoingMessage) -> Mail:
    """The SendGrid v3 mail object for one message."""
    mail = Mail(
        from_email=From(message.from_email, message.from_name),
        to_emails=To(message.to),
        subject=message.subject,
        plain_text_content=message.text,
        html_content=message.html,
    )
    if message.reply_to:
        mail.reply_to = ReplyTo(message.reply_to)
    targets = [f"<{u}>" for u in (message.unsubscribe_url, message.unsubscribe_mailto) if u]
    if targets:
        mail.add_header(Header("List-Unsubscribe", ", ".join(targets)))
        if message.unsubscribe_url:
            mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for key, value in opaque_args(message.metadata).items():
        mail.add_custom_arg(CustomArg(key, value))
    return mail


def _error_message(body: bytes | str | None) -> str:
    """SendGrid's `{"errors": [{"message": ...}]}`, joined; the raw text when it is not JSON."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data: Any = json.loads(raw)
    except ValueError:
        return raw.strip()[:200] or "no details"
    errors = data.get("errors") if isinstance(data, dict) else None
    if isinstance(errors, list):
        messages = [str(e.get("message", "")) for e in errors if isinstance(e, dict)]
        if any(messages):
            return "; ".join(m for m in messages if m)
    return raw.strip()[:200] or "no details"


class SendGridChannel(BaseChannel):
    """Sends email with SendGrid; the `X-Message-Id` it answers is the provider id."""

    provider = "sendgrid"
    channel = Channel.EMAIL

    def __init__(self, api_key: str, *, host: str, timeout_s: float) -> None:
        self.client = SendGridAPIClient(api_key=api_key, host=host)
        # Every request the SDK builds inherits this timeout (urllib's socket timeout).
        self.client.client.timeout = timeout_s

    def _send(self, message: OutgoingMessage) -> SendResult:
        mail = build_mail(message)
        try:
            response = self.client.send(mail)
        except HTTPError as exc:
            raise error_for_status(
                self.provider,
                int(exc.status_code),
                message=_error_message(exc.body),
                headers=dict(exc.headers.items()) if exc.headers else None,
                now=message.now or utcnow(),
            ) from None
        except urllib.error.URLError as exc:
            # urllib wraps only failures while connecting and writing the request.
            raise not_sent(self.provider, str(exc.reason)) from None
        except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
            # The request was written; the answer never came (or came cut).
            raise maybe_sent(self.provider, type(exc).__name__) from None
        message_id = response.headers.get("X-Message-Id") or ""
        return SendResult(provider=self.provider, message_id=message_id)
