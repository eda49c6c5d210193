"""Channels: how a message reaches a provider. `ls` this folder to see them all.

- `outbox`: a file per message (the default; nothing leaves the machine)
- `sendgrid`: email through SendGrid's official SDK
- `twilio`: SMS through Twilio's official SDK
"""

from __future__ import annotations

from nurture.channels.base import BaseChannel, OutgoingMessage, SendResult
from nurture.config import Settings
from nurture.errors import ConfigError
from nurture.models import Channel

__all__ = ["BaseChannel", "OutgoingMessage", "SendResult", "make_channel"]


def make_channel(channel: Channel, settings: Settings) -> BaseChannel:
    """The configured sender for `channel` (NURTURE_EMAIL_BACKEND / NURTURE_SMS_BACKEND)."""
    from nurture.channels.outbox import OutboxEmailChannel, OutboxSmsChannel

    backend = settings.email_backend if channel is Channel.EMAIL else settings.sms_backend
    if backend == "outbox":
        if channel is Channel.EMAIL:
            return OutboxEmailChannel(settings.outbox_dir)
        return OutboxSmsChannel(settings.outbox_dir, settings.twilio_from)
    raise ConfigError(
        f"NURTURE_{channel.value.upper()}_BACKEND={backend!r} is not available in this build"
    )
