"""A test send from the clinic studio: one step's message, rendered for a sample prospect,
through the configured channel to an address the clinic gives, subject prefixed `[TEST]`.

It goes straight to the channel (no contact, enrollment, delivery or consent row; no send
metric of a prospect moves) and is logged as `studio.test_send` with a masked address and
never the body. All test sends share one rate limit (`NURTURE_TEST_SEND_RATE`) on the
shared limiter, so a page left open or a script cannot turn the studio into a sender.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from nurture.channels import make_channel
from nurture.channels.base import BaseChannel
from nurture.config import Settings, parse_rate
from nurture.content.compose import Composer
from nurture.content.context import StepChannel
from nurture.content.render import Renderer
from nurture.content.samples import find_sample
from nurture.core.addressing import mask, normalize_email, normalize_phone
from nurture.core.keys import TEST_SEND_RATE_KEY
from nurture.core.states import Channel
from nurture.errors import InvalidValueError, NotFoundError, TooManyRequestsError
from nurture.schedule import Catalog
from nurture.send.ratelimit import RateLimiter

log = structlog.get_logger(__name__)

TEST_PREFIX = "[TEST] "
#: The window a burst of test sends is counted over.
_BURST_WINDOW_S = 60.0


@dataclass(frozen=True)
class TestSendResult:
    """What the provider said, and where it went (masked)."""

    channel: Channel
    provider: str
    message_id: str
    to_masked: str
    sample: str


def parse_channel(value: str) -> Channel:
    """`email` or `sms`, else an error naming the value."""
    try:
        return Channel(value.strip().lower())
    except ValueError:
        raise InvalidValueError(f"invalid channel {value!r}: use email or sms") from None


def check_recipient(channel: Channel, to: str) -> str:
    """The address normalised for `channel`; InvalidAddressError says what is wrong."""
    if not to.strip():
        what = "email address" if channel is Channel.EMAIL else "phone number"
        raise InvalidValueError(f"give the {what} to send the test to")
    if channel is Channel.EMAIL:
        return normalize_email(to)
    return normalize_phone(to)


def take_test_slot(settings: Settings, limiter: RateLimiter) -> None:
    """Reserve one test send, or TooManyRequestsError: a burst of up to the rate's count per
    minute, then one each 1/rate (GCRA on the shared limiter, its own key)."""
    per_s = parse_rate(settings.test_send_rate)
    if per_s is None:
        return
    max_wait_s = max(0.0, _BURST_WINDOW_S - 1 / per_s)
    reservation = limiter.reserve(TEST_SEND_RATE_KEY, per_s=per_s, max_wait_s=max_wait_s)
    if not reservation.granted:
        retry_s = max(1.0, reservation.wait_s - max_wait_s)
        raise TooManyRequestsError(
            f"too many test sends (at most {settings.test_send_rate}): "
            f"try again in {retry_s:.0f} s",
            retry_after_s=retry_s,
        )


def send_test(
    *,
    settings: Settings,
    catalog: Catalog,
    renderer: Renderer,
    limiter: RateLimiter,
    sequence_id: str,
    step_id: str,
    channel: Channel,
    to: str,
    sample: str | None,
    now: datetime,
    channel_factory: Callable[[Channel, Settings], BaseChannel] = make_channel,
) -> TestSendResult:
    """Send one step's message for a sample prospect to `to`, as a test (see the module)."""
    sequence = catalog.get(sequence_id)
    try:
        step = sequence.step(step_id)
    except KeyError:
        raise NotFoundError(f"sequence {sequence_id!r} has no step {step_id!r}") from None
    if channel not in step.channels:
        sent_on = ", ".join(c.value for c in step.channels)
        raise InvalidValueError(f"step {step_id!r} is not sent by {channel.value} (only {sent_on})")
    prospect = find_sample(sample)
    sample_name = prospect.name
    address = check_recipient(channel, to)
    composer = Composer(renderer, settings, catalog)
    _, message = composer.sample(StepChannel(sequence, step, channel), prospect.contact, now)
    take_test_slot(settings, limiter)
    if channel is Channel.EMAIL:
        message = replace(message, subject=TEST_PREFIX + (message.subject or ""))
    else:
        message = replace(message, text=TEST_PREFIX + message.text)
    message = replace(message, to=address, metadata={"test_send": "1"})
    sender = channel_factory(channel, settings)
    try:
        result = sender.send(message)
    finally:
        sender.close()
    log.info(
        "studio.test_send",
        sequence=sequence_id,
        step=step_id,
        channel=channel.value,
        sample=sample_name,
        to_masked=mask(address),
        provider=result.provider,
        provider_message_id=result.message_id,
    )
    return TestSendResult(channel, result.provider, result.message_id, mask(address), sample_name)
