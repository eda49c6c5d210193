"""Channels: how a message reaches a provider. `ls` this folder to see them all.

- `outbox`: a file per message (the default; nothing leaves the machine)
- `sendgrid`: email through SendGrid's official SDK
- `twilio`: SMS through Twilio's official SDK
"""

from __future__ import annotations

from nurture.channels.base import BaseChannel, SendResult
from nurture.config import Settings
from nurture.content.message import OutgoingMessage
from nurture.core.addressing import per_channel
from nurture.core.states import Channel
from nurture.errors import ConfigError

__all__ = [
    "BaseChannel",
    "OutgoingMessage",
    "SendResult",
    "check_channels",
    "make_channel",
    "status_callback_url",
]

#: Where Twilio posts delivery reports (PUBLIC_URL + this path).
TWILIO_STATUS_PATH = "/webhooks/twilio/status"


def status_callback_url(settings: Settings) -> str:
    return settings.public_url + TWILIO_STATUS_PATH


def _require(settings: Settings, backend: str, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        listed = ", ".join(f"NURTURE_{n.upper()}" for n in missing)
        raise ConfigError(f"the {backend} backend needs {listed}: set it in the environment")


def make_channel(channel: Channel, settings: Settings) -> BaseChannel:
    """The configured sender for `channel` (NURTURE_EMAIL_BACKEND / NURTURE_SMS_BACKEND)."""
    backend = per_channel(channel, settings.email_backend, settings.sms_backend)
    if backend == "outbox":
        from nurture.channels.outbox import OutboxEmailChannel, OutboxSmsChannel

        if channel is Channel.EMAIL:
            return OutboxEmailChannel(settings.outbox_dir)
        return OutboxSmsChannel(settings.outbox_dir, settings.twilio_from)
    if backend == "sendgrid":
        from nurture.channels.sendgrid import SendGridChannel

        _require(settings, backend, "sendgrid_api_key")
        return SendGridChannel(
            settings.sendgrid_api_key,
            host=settings.sendgrid_api_host,
            timeout_s=settings.provider_timeout_s,
        )
    if backend == "twilio":
        from nurture.channels.twilio import TwilioChannel

        _require(settings, backend, "twilio_account_sid", "twilio_auth_token")
        if not (settings.twilio_from or settings.twilio_messaging_service_sid):
            raise ConfigError(
                "the twilio backend needs NURTURE_TWILIO_FROM or "
                "NURTURE_TWILIO_MESSAGING_SERVICE_SID: set one in the environment"
            )
        return TwilioChannel(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            from_number=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            api_base=settings.twilio_api_base,
            status_callback=status_callback_url(settings),
            timeout_s=settings.provider_timeout_s,
        )
    raise ConfigError(
        f"NURTURE_{channel.value.upper()}_BACKEND={backend!r} is not available in this build"
    )


def check_channels(settings: Settings) -> None:
    """Build every configured channel once, so missing credentials stop a worker at start."""
    for channel in Channel:
        make_channel(channel, settings).close()
